package wire

import (
	"bytes"
	"testing"
)

func TestSkipIPv4Header(t *testing.T) {
	cases := []struct {
		pkt     []byte
		wantOff int // offset of the returned slice in pkt, if no error
		wantErr error
	}{
		0: {nil, 0, ErrShort},
		1: {ipv4Packet(20)[:19], 0, ErrShort},
		2: {ipv4Packet(20), 20, nil},                 // header only, nothing after
		3: {ipv4Packet(52), 20, nil},                 // IHL 5
		4: {mustHex("46" + zeros(31)), 24, nil},      // IHL 6: one option word
		5: {mustHex("4F" + zeros(59)), 60, nil},      // IHL 15 exactly fills pkt
		6: {mustHex("4F" + zeros(58)), 0, ErrLength}, // IHL 15 runs past the end
		7: {mustHex("44" + zeros(31)), 0, ErrLength}, // IHL 4 is below the minimum
		8: {mustHex("60" + zeros(39)), 0, ErrLength}, // IPv6
		9: {mustHex("B7" + zeros(31)), 0, ErrLength}, // not IP at all
	}
	for i, c := range cases {
		rest, err := SkipIPv4Header(c.pkt)
		if err != c.wantErr {
			t.Errorf("case %d: err = %v, want %v", i, err, c.wantErr)
			continue
		}
		if err != nil {
			if rest != nil {
				t.Errorf("case %d: rest = % X on error, want nil", i, rest)
			}
			continue
		}
		if !bytes.Equal(rest, c.pkt[c.wantOff:]) || len(rest) > 0 && &rest[0] != &c.pkt[c.wantOff] {
			t.Errorf("case %d: rest is not pkt[%d:]", i, c.wantOff)
		}
	}
}

// TestSkipThenDecode runs the receive path on a packet as a raw socket
// delivers it: outer IPv4 header, bundle header, inner packet.
func TestSkipThenDecode(t *testing.T) {
	v := goldenHeaders[0]
	inner := ipv4Packet(60)
	outer := ipv4Packet(20 + HeaderLen + len(inner))
	outer[9] = 4 // IP-in-IP
	pkt := join(join(outer[:20], mustHex(v.hex)), inner)

	rest, err := SkipIPv4Header(pkt)
	if err != nil {
		t.Fatalf("SkipIPv4Header: %v", err)
	}
	var h Header
	body, err := Decode(rest, &h)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if h != v.h || !bytes.Equal(body, inner) {
		t.Errorf("got %+v and %d-byte body, want %+v and %d bytes", h, len(body), v.h, len(inner))
	}
}
