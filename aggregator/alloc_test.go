package aggregator

import (
	"testing"

	"github.com/polylink/polylink/wire"
)

// TestZeroAllocs pins what runs per packet: Send (header, pooled buffer,
// direct write) and the receive path for data and for probes.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	d := newDriven(t, Config{Peers: raw(nicB0)})
	d.prove(t, vipB, 20, nicB0)
	pkt := ipv4Packet(1)
	var id uint16
	data := dataFrom(t, vipB, 20, 0)
	probe := probeFrom(t, vipB, 20, 2)
	cases := []struct {
		name string
		f    func()
	}{
		0: {"Send", func() { _ = d.e.Send(vipB, pkt) }},
		1: {"receive data", func() {
			id = wire.NextID(id)
			data[0], data[1] = 0x20|byte(id>>8), byte(id) // F bit and the next ID: a first copy each time
			d.in(nicB0, data)
		}},
		2: {"receive a duplicate", func() { d.in(nicB0, data) }},
		3: {"receive a probe, reply", func() { d.in(nicB0, probe) }},
	}
	for i, c := range cases {
		if n := testing.AllocsPerRun(1000, c.f); n != 0 {
			t.Errorf("case %d: %s allocates %v times per run, want 0", i, c.name, n)
		}
	}
	if st := d.e.Status().Counters; st.Delivered < 1000 || st.TxCopies < 1000 {
		t.Fatalf("the runs did not take the paths measured: %+v", st)
	}
}
