package wire

import "testing"

func TestZeroAllocs(t *testing.T) {
	v := goldenHeaders[3] // data with a 1200-byte body
	pkt := join(make([]byte, HeaderLen), v.body)
	bad := mustHex(decodeErrorCases[4].pkt)
	probeBuf := make([]byte, ProbeLen)
	var h Header
	var p Probe
	var sink error

	cases := []struct {
		name string
		f    func()
	}{
		0: {"Header.Encode", func() { sink = v.h.Encode(pkt) }},
		1: {"Decode", func() { _, sink = Decode(pkt, &h) }},
		2: {"Decode error", func() { _, sink = Decode(bad, &h) }},
		3: {"Probe.Encode+DecodeProbe", func() {
			sink = goldenProbes[0].p.Encode(probeBuf)
			sink = DecodeProbe(probeBuf, &p)
		}},
		4: {"SkipIPv4Header", func() { _, sink = SkipIPv4Header(pkt[HeaderLen:]) }},
	}
	for i, c := range cases {
		if n := testing.AllocsPerRun(1000, c.f); n != 0 {
			t.Errorf("case %d: %s allocates %v times per run, want 0", i, c.name, n)
		}
	}
	_ = sink
}
