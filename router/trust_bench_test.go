package router_test

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/polylink/polylink/router"
)

// stubBundles knows a fixed set of hosts behind a read lock, as the engine
// does, and a gateway.
type stubBundles struct {
	mu    sync.RWMutex
	hosts map[netip.Addr]bool
	gw    netip.Addr
}

func (s *stubBundles) Send(netip.Addr, []byte) error { return nil }
func (s *stubBundles) HasHost(a netip.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hosts[a]
}
func (s *stubBundles) Gateway() (netip.Addr, bool) { return s.gw, true }

// BenchmarkDeliverSourceCheck is the cost of Deliver's reverse-path check:
// "own" is a packet whose source is its sending host (the router's usual
// case, no lookup), "relayed" one a plain host gets from its gateway with
// another host's source (one routing lookup). The FakeTUN's copy of the
// packet is in both.
func BenchmarkDeliverSourceCheck(b *testing.B) {
	gw := netip.MustParseAddr("198.19.0.1")
	for _, c := range []struct{ name, src string }{{"own", "198.19.0.1"}, {"relayed", "198.19.0.3"}} {
		b.Run(c.name, func(b *testing.B) {
			tun := router.NewFakeTUN("pl0", 9, 1464)
			defer tun.Close()
			rt := router.New(router.Config{Device: tun, Prefix: netip.MustParsePrefix("198.19.0.2/24")},
				&stubBundles{hosts: map[netip.Addr]bool{gw: true}, gw: gw})
			pkt := udp(c.src, "198.19.0.2", 64, 1)
			stop := make(chan struct{})
			defer close(stop)
			go func() { // drain the fake TUN so Write never drops
				for {
					select {
					case <-tun.Written():
					case <-stop:
						return
					}
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rt.Deliver(gw, pkt)
			}
			b.StopTimer()
			if got := rt.Status().Counters.Spoofed; got != 0 {
				b.Fatalf("%d packets taken for spoofed", got)
			}
		})
	}
}
