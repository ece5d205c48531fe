package wire

import (
	"bytes"
	"testing"
)

// goldenProbes: SendTime (8 bytes), Seq (4), Epoch (4), all big-endian.
var goldenProbes = []struct {
	p   Probe
	hex string
}{
	// 0: each byte distinct, so a swapped or misplaced byte shows.
	//   SendTime 0x0102030405060708 -> 01 02 03 04 05 06 07 08
	//   Seq      0x090A0B0C         -> 09 0A 0B 0C
	//   Epoch    0xCAFEF00D         -> CA FE F0 0D
	0: {Probe{SendTime: 0x0102030405060708, Seq: 0x090A0B0C, Epoch: 0xCAFEF00D}, "01 02 03 04 05 06 07 08 09 0A 0B 0C CA FE F0 0D"},
	// 1: the zero probe.
	1: {Probe{}, "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
	// 2: a negative time travels as its two's complement.
	2: {Probe{SendTime: -1, Seq: 1, Epoch: 0xFFFFFFFF}, "FF FF FF FF FF FF FF FF 00 00 00 01 FF FF FF FF"},
	// 3: 1.5 s = 1_500_000_000 ns = 0x59682F00.
	3: {Probe{SendTime: 1_500_000_000, Seq: 300, Epoch: 42}, "00 00 00 00 59 68 2F 00 00 00 01 2C 00 00 00 2A"},
}

func TestProbeGolden(t *testing.T) {
	for i, v := range goldenProbes {
		want := mustHex(v.hex)
		got := make([]byte, ProbeLen)
		if err := v.p.Encode(got); err != nil {
			t.Fatalf("vector %d: Encode: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("vector %d: Encode = % X, want % X", i, got, want)
		}
		var back Probe
		if err := DecodeProbe(want, &back); err != nil {
			t.Fatalf("vector %d: DecodeProbe: %v", i, err)
		}
		if back != v.p {
			t.Errorf("vector %d: DecodeProbe = %+v, want %+v", i, back, v.p)
		}
	}
}

func TestProbeErrors(t *testing.T) {
	p := goldenProbes[0].p
	for i, n := range []int{0, 1, ProbeLen - 1} {
		if err := p.Encode(make([]byte, n)); err != ErrShort {
			t.Errorf("case %d: Encode into %d bytes = %v, want ErrShort", i, n, err)
		}
	}
	for i, n := range []int{0, ProbeLen - 1, ProbeLen + 1, 1200} {
		got := Probe{Seq: 9}
		if err := DecodeProbe(make([]byte, n), &got); err != ErrLength {
			t.Errorf("case %d: DecodeProbe of %d bytes = %v, want ErrLength", i, n, err)
		}
		if got != (Probe{Seq: 9}) {
			t.Errorf("case %d: DecodeProbe changed p on error: %+v", i, got)
		}
	}
}

func TestReplyProbe(t *testing.T) {
	// The reply (vector 0), then the probe (vector 3): 32 bytes, no gap.
	body := mustHex(goldenProbes[0].hex + " " + goldenProbes[3].hex)
	var r, p Probe
	if err := DecodeReplyProbe(body, &r, &p); err != nil {
		t.Fatal(err)
	}
	if r != goldenProbes[0].p || p != goldenProbes[3].p {
		t.Fatalf("DecodeReplyProbe = %+v, %+v; want %+v, %+v", r, p, goldenProbes[0].p, goldenProbes[3].p)
	}
	for _, n := range []int{0, ProbeLen, 2*ProbeLen - 1, 2*ProbeLen + 1} {
		r, p = Probe{Seq: 7}, Probe{Seq: 8}
		if err := DecodeReplyProbe(make([]byte, n), &r, &p); err != ErrLength || r.Seq != 7 || p.Seq != 8 {
			t.Errorf("len %d: err %v, reply %+v, probe %+v; want ErrLength and both untouched", n, err, r, p)
		}
	}
	// Decode checks the length for the kind: a reply-probe with one body is
	// malformed, with two it is whole.
	hdr := mustHex("00 00 B7 13 C6 13 00 02 00 00 00 03 00 00 00 07")
	var h Header
	if _, err := Decode(join(hdr, make([]byte, ProbeLen)), &h); err != ErrLength {
		t.Errorf("reply-probe with a 16-byte body: %v, want ErrLength", err)
	}
	if b, err := Decode(join(hdr, body), &h); err != nil || h.Kind != KindReplyProbe || len(b) != 2*ProbeLen {
		t.Errorf("reply-probe with a 32-byte body: kind %v, body %d, err %v", h.Kind, len(b), err)
	}
}
