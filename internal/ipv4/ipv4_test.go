package ipv4

import (
	"net/netip"
	"testing"
)

// header returns a 20-byte IPv4 header with the given first byte and total
// length, from 198.18.0.1 to 198.19.0.2.
func header(b0 byte, total int) []byte {
	h := make([]byte, MinHeaderLen)
	h[0] = b0
	h[2], h[3] = byte(total>>8), byte(total)
	copy(h[12:], []byte{198, 18, 0, 1})
	copy(h[16:], []byte{198, 19, 0, 2})
	return h
}

func TestHeaderLen(t *testing.T) {
	withOptions := append(header(0x46, 24), 1, 1, 1, 0)
	cases := []struct {
		name string
		pkt  []byte
		want int
	}{
		0: {"nil", nil, 0},
		1: {"shorter than a header", header(0x45, 20)[:19], 0},
		2: {"plain header", header(0x45, 20), 20},
		3: {"header with options", withOptions, 24},
		4: {"options run past the end", withOptions[:23], 0},
		5: {"IHL 4", header(0x44, 20), 0},
		6: {"IHL 0", header(0x40, 20), 0},
		7: {"version 6", header(0x65, 20), 0},
		8: {"IHL 15 in 20 bytes", header(0x4f, 20), 0},
	}
	for i, c := range cases {
		if got := HeaderLen(c.pkt); got != c.want {
			t.Errorf("%d %s: HeaderLen = %d, want %d", i, c.name, got, c.want)
		}
	}
}

func TestFields(t *testing.T) {
	h := header(0x45, 1500)
	if got := TotalLen(h); got != 1500 {
		t.Errorf("TotalLen = %d, want 1500", got)
	}
	if got, want := Src(h), netip.MustParseAddr("198.18.0.1"); got != want {
		t.Errorf("Src = %v, want %v", got, want)
	}
	if got, want := Dst(h), netip.MustParseAddr("198.19.0.2"); got != want {
		t.Errorf("Dst = %v, want %v", got, want)
	}
}

// FuzzHeaderLen checks that HeaderLen never panics and that a non-zero
// result is a length the packet holds and the IHL states.
func FuzzHeaderLen(f *testing.F) {
	f.Add(header(0x45, 20))
	f.Add(append(header(0x46, 24), 0, 0, 0, 0))
	f.Add([]byte{0x4f})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		n := HeaderLen(pkt)
		if n == 0 {
			return
		}
		if n < MinHeaderLen || n > MaxHeaderLen || n > len(pkt) || n != int(pkt[0]&0x0f)*4 || pkt[0]>>4 != 4 {
			t.Fatalf("HeaderLen = %d for a %d-byte packet starting %#x", n, len(pkt), pkt[0])
		}
		_, _, _ = TotalLen(pkt), Src(pkt), Dst(pkt)
	})
}
