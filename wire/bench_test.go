package wire

import "testing"

// BenchmarkEncodeDecode writes the header of a 1200-byte data packet, then
// decodes it, as one send and one receive would.
func BenchmarkEncodeDecode(b *testing.B) {
	pkt := join(make([]byte, HeaderLen), ipv4Packet(1200))
	h := goldenHeaders[0].h
	var got Header
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.ID = uint16(i) & (IDSpace - 1)
		if err := h.Encode(pkt); err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(pkt, &got); err != nil {
			b.Fatal(err)
		}
	}
	if got.ID != h.ID {
		b.Fatalf("decoded ID %d, encoded %d", got.ID, h.ID)
	}
}

// BenchmarkProbe encodes a probe body and decodes it.
func BenchmarkProbe(b *testing.B) {
	buf := make([]byte, ProbeLen)
	p := goldenProbes[0].p
	var got Probe
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Seq = uint32(i)
		if err := p.Encode(buf); err != nil {
			b.Fatal(err)
		}
		if err := DecodeProbe(buf, &got); err != nil {
			b.Fatal(err)
		}
	}
	if got != p {
		b.Fatalf("decoded %+v, encoded %+v", got, p)
	}
}
