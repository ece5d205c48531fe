package aggregator

import (
	"testing"

	"github.com/polylink/polylink/wire"
)

// BenchmarkSend is Engine.Send onto one proven path whose link writes at
// once (the direct path): ID, header, pooled copy, write.
func BenchmarkSend(b *testing.B) {
	d := newDriven(b, Config{Peers: raw(nicB0)})
	d.prove(b, vipB, 20, nicB0)
	pkt := ipv4Packet(1)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		_ = d.e.Send(vipB, pkt)
	}
}

// BenchmarkReceiveData is one first copy through the receive path: decode,
// connection lookup, duplicate filter, Deliver.
func BenchmarkReceiveData(b *testing.B) {
	d := newDriven(b, Config{Peers: raw(nicB0)})
	d.prove(b, vipB, 20, nicB0)
	data := dataFrom(b, vipB, 20, 0)
	var id uint16
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		id = wire.NextID(id)
		data[0], data[1] = 0x20|byte(id>>8), byte(id)
		d.in(nicB0, data)
	}
}
