package aggregator

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestNATMappingChangeMovesThePath: robot A reaches router B over two
// UDP-like links; A's first link sits behind a fake NAT that changes its
// mapping mid-stream. B takes the new endpoint as a new remote NIC, proves
// it within about a round trip, forgets the old one after the dead
// interval, and no packet of the stream is lost (the other path is up).
// Links of another kind (raw) never pair with UDP endpoints.
func TestNATMappingChangeMovesThePath(t *testing.T) {
	net := NewFakeNetwork()
	sb := newSink()
	const probe = 20 * time.Millisecond
	server := netip.MustParseAddrPort("198.18.0.3:45820")
	a, err := New(Config{VIP: vipA, Peers: []netip.AddrPort{server}, ProbeInterval: probe, DeadInterval: 10 * probe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := New(Config{VIP: vipB, Router: true, ProbeInterval: probe, DeadInterval: 10 * probe, Deliver: sb.deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	b.AddLink(net.NewEndpointLink(20, "eth0", server, "s"))
	b.AddLink(net.NewLink(20, "eth0", addr("198.18.0.3"), "s")) // a raw link beside it: must stay out of UDP paths
	nat := net.NewEndpointLink(10, "wwan0", netip.MustParseAddrPort("10.0.0.2:45820"), "s")
	nat.Remap(netip.MustParseAddrPort("198.18.7.1:1024"))
	a.AddLink(nat)
	a.AddLink(net.NewEndpointLink(11, "wlan0", netip.MustParseAddrPort("198.18.1.2:45820"), "s"))
	waitFor(t, "both paths up at B", 2*time.Second, func() bool { return upConns(b, vipA) == 2 }, a, b)
	if eps := upEndpoints(b, vipA); !slices.Equal(eps, []string{"198.18.1.2:45820", "198.18.7.1:1024"}) {
		t.Fatalf("B's paths to A: %v, want the NAT-mapped 198.18.7.1:1024 and 198.18.1.2:45820", eps)
	}
	for _, c := range b.Status().Hosts[0].Connections {
		if c.Encap != "udp" {
			t.Fatalf("B pairs a %s path with a UDP endpoint: %+v", c.Encap, c)
		}
	}

	stop := make(chan struct{})
	sent := make(chan uint32, 1)
	go func() {
		var i uint32
		defer func() { sent <- i }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			a.Send(vipB, ipv4Packet(i))
			i++
		}
	}()
	time.Sleep(100 * time.Millisecond)
	moved := time.Now()
	nat.Remap(netip.MustParseAddrPort("198.18.7.2:2048")) // the NAT rebooted with a new address
	waitFor(t, "B on the new mapping", 2*time.Second, func() bool {
		return slices.Contains(upEndpoints(b, vipA), "198.18.7.2:2048")
	}, a, b)
	t.Logf("B moved the path to the new mapping %v after the change (probe interval %v)", time.Since(moved).Round(time.Millisecond), probe)
	waitFor(t, "the old mapping forgotten", 2*time.Second, func() bool {
		return !slices.Contains(upEndpoints(b, vipA), "198.18.7.1:1024")
	}, a, b)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	n := <-sent
	waitFor(t, "every packet delivered", 2*time.Second, func() bool { u, _ := sb.counts(); return u == int(n) }, a, b)
	if _, dups := sb.counts(); dups != 0 {
		t.Fatalf("%d duplicates reached the application", dups)
	}
}

// upEndpoints lists e's up paths' remote endpoints to host vip, sorted.
func upEndpoints(e *Engine, vip netip.Addr) []string {
	var out []string
	for _, h := range e.Status().Hosts {
		for _, c := range h.Connections {
			if h.VIP == vip.String() && c.State == 2 {
				out = append(out, c.RemoteAddr)
			}
		}
	}
	slices.Sort(out)
	return out
}
