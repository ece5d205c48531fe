package aggregator_test

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/internal/ipv4"
	"github.com/polylink/polylink/wire"
)

// FuzzReceive feeds one engine arbitrary packets on a link, from arbitrary
// underlay sources, through the same reader a real link has. The engine must
// take each one (rx_packets counts it) without panicking, and hand the
// application only whole IPv4 packets. The engine lives across inputs, so
// the fuzzer also drives its tables of hosts and NICs to their bounds.
func FuzzReceive(f *testing.F) {
	var bad atomic.Value // the first malformed delivery, as a string
	eng, err := aggregator.New(aggregator.Config{
		VIP: netip.MustParseAddr("198.19.0.2"), ProbeInterval: time.Hour, MaxHosts: 8,
		Deliver: func(_ netip.Addr, pkt []byte) {
			if n := ipv4.HeaderLen(pkt); n == 0 || ipv4.TotalLen(pkt) != len(pkt) {
				bad.CompareAndSwap(nil, string(pkt))
			}
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { eng.Close() })
	link := aggregator.NewFakeNetwork().NewLink(2, "eth0", netip.MustParseAddr("198.18.0.2"), "s0")
	eng.AddLink(link)

	for _, kind := range []wire.Kind{wire.KindData, wire.KindProbe, wire.KindProbeReply} {
		h := wire.Header{Kind: kind, Forward: kind == wire.KindData, ID: 5, Host: netip.MustParseAddr("198.19.0.3"), SrcIndex: 7, DstIndex: 2}
		pkt := make([]byte, wire.HeaderLen+wire.ProbeLen)
		if err := h.Encode(pkt); err != nil {
			f.Fatal(err)
		}
		if kind == wire.KindData {
			body := pkt[wire.HeaderLen:]
			body[0], body[3] = 0x45, byte(len(body)) // a 16-byte "packet": too short for IPv4, the fuzzer grows it
		}
		f.Add(pkt, byte(3))
	}
	f.Add([]byte{}, byte(0))

	var taken uint64
	f.Fuzz(func(t *testing.T, pkt []byte, srcHost byte) {
		src := netip.AddrFrom4([4]byte{198, 18, 0, srcHost})
		if err := link.Inject(pkt, src); err != nil {
			t.Fatal(err)
		}
		taken++
		deadline := time.Now().Add(5 * time.Second)
		for eng.Status().Counters.RxPackets < taken {
			if time.Now().After(deadline) {
				t.Fatalf("the engine took %d of %d packets", eng.Status().Counters.RxPackets, taken)
			}
			time.Sleep(20 * time.Microsecond)
		}
		if b := bad.Load(); b != nil {
			t.Fatalf("delivered a malformed packet: % x", b)
		}
	})
}
