package router_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/router"
	"github.com/polylink/polylink/wire"
)

// allUp waits until every node has paths connections in state 2 to each
// host it knows (the working NIC pairs), so what the test sends next is
// neither lost to path proof nor dropped as unproven: the drops it then
// counts are the router's own.
func allUp(t *testing.T, paths int, nodes ...*vnode) {
	t.Helper()
	waitFor(t, "every path up in both directions", func() bool {
		for _, n := range nodes {
			st := n.eng.Status()
			if len(st.Hosts) == 0 {
				return false
			}
			for _, h := range st.Hosts {
				up := 0
				for _, c := range h.Connections {
					if c.State == 2 {
						up++
					}
				}
				if up != paths {
					return false
				}
			}
		}
		return true
	})
}

// noPacket fails if the TUN has a packet waiting or gets one within 50 ms.
func noPacket(t *testing.T, n *vnode, where string) {
	t.Helper()
	select {
	case pkt := <-n.tun.Written():
		h, _ := router.ParseIPv4(pkt)
		t.Fatalf("%s got a packet it must not: %v → %v", where, h.Src, h.Dst)
	case <-time.After(50 * time.Millisecond):
	}
}

// receives waits for a packet from src at n's TUN, skipping nothing: the
// first packet written must be it.
func receives(t *testing.T, n *vnode, src, where string) {
	t.Helper()
	select {
	case pkt := <-n.tun.Written():
		if h, _ := router.ParseIPv4(pkt); h.Src.String() != src {
			t.Fatalf("%s got a packet from %v, want the one from %s", where, h.Src, src)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("the legitimate packet from %s never reached %s", src, where)
	}
}

func TestRouterDropsSpoofedSources(t *testing.T) {
	routed := router.Route{Prefix: netip.MustParsePrefix("198.19.200.0/24"), Via: netip.MustParseAddr("198.19.0.2")}
	a, r, b := threeNodes(t, routed)
	allUp(t, 2, a, r, b)
	// A speaks for B, for the router itself, for an address nobody has,
	// and for one outside the virtual network that no route sends to A.
	spoofs := []struct{ src, dst string }{
		{"198.19.0.3", "198.19.0.1"}, // B's address, to the router
		{"198.19.0.3", "198.19.0.3"}, // B's address, relayed to B
		{"198.19.0.1", "198.19.0.3"}, // the router's own address
		{"198.19.0.99", "198.19.0.3"},
		{"198.19.201.7", "198.19.0.3"},
	}
	for i, s := range spoofs {
		a.tun.Inject(udp(s.src, s.dst, 64, uint32(i)))
	}
	want := uint64(len(spoofs))
	waitFor(t, "every spoofed packet counted", func() bool { return r.rt.Status().Counters.Spoofed >= want })
	if got := r.rt.Status().Counters.Spoofed; got != want {
		t.Errorf("router counted %d spoofed packets, want %d", got, want)
	}
	if got := r.rt.Status().Counters.Forwarded; got != 0 {
		t.Errorf("router forwarded %d spoofed packets", got)
	}
	noPacket(t, r, "the router's TUN")
	noPacket(t, b, "B")

	// What A may say still goes through: its own address, and an address
	// R's static route sends via A. B accepts both from R, its gateway.
	a.tun.Inject(udp("198.19.0.2", "198.19.0.3", 64, 100))
	receives(t, b, "198.19.0.2", "B")
	a.tun.Inject(udp("198.19.200.5", "198.19.0.3", 64, 101))
	receives(t, b, "198.19.200.5", "B")
	// The routed prefix is A's, not B's.
	b.tun.Inject(udp("198.19.200.5", "198.19.0.2", 64, 102))
	waitFor(t, "B's claim to A's routed prefix counted", func() bool { return r.rt.Status().Counters.Spoofed == want+1 })
	noPacket(t, a, "A")
}

func TestPlainHostDropsTransit(t *testing.T) {
	net := aggregator.NewFakeNetwork()
	a := newVNode(t, net, "198.19.0.2/24", false, []string{"198.18.0.3"}, map[string]string{"198.18.0.2": "s0"})
	b := newVNode(t, net, "198.19.0.3/24", false, []string{"198.18.0.2"}, map[string]string{"198.18.0.3": "s0"})
	allUp(t, 1, a, b)
	// A's gateway is B, so A hands B what is not B's; B is no router.
	for i, dst := range []string{"198.19.0.77", "198.19.9.9", "198.18.0.3"} {
		a.tun.Inject(udp("198.19.0.2", dst, 64, uint32(i)))
	}
	waitFor(t, "transit counted at B", func() bool { return b.rt.Status().Counters.Transit >= 3 })
	if got := b.rt.Status().Counters.Transit; got != 3 {
		t.Errorf("B counted %d transit packets, want 3", got)
	}
	noPacket(t, b, "B (no router)")
	a.tun.Inject(udp("198.19.0.2", "198.19.0.3", 64, 9))
	receives(t, b, "198.19.0.2", "B")
}

func TestRouterRefusesHostAddressesOutsideItsNetwork(t *testing.T) {
	net := aggregator.NewFakeNetwork()
	r := newVNode(t, net, "198.19.0.1/24", true, nil, map[string]string{"198.18.0.3": "s0"})
	link := r.links["198.18.0.3"]
	stranger := netip.MustParseAddr("198.18.0.66")
	claim := func(vip string, seq uint32) {
		t.Helper()
		b := make([]byte, wire.HeaderLen+wire.ProbeLen)
		h := wire.Header{Kind: wire.KindProbe, Host: netip.MustParseAddr(vip), SrcIndex: 5}
		if err := h.Encode(b); err != nil {
			t.Fatal(err)
		}
		if err := (&wire.Probe{SendTime: 1, Seq: seq, Epoch: 9}).Encode(b[wire.HeaderLen:]); err != nil {
			t.Fatal(err)
		}
		if err := link.Inject(b, stranger); err != nil {
			t.Fatal(err)
		}
	}
	bad := []string{"198.19.0.0", "198.19.0.255", "198.19.1.7", "10.0.0.1", "0.0.0.0", "255.255.255.255"}
	for i, vip := range bad {
		claim(vip, uint32(i))
	}
	// A good claim after the bad ones: once it is learned, the bad ones
	// before it on the same in-order link have been handled.
	claim("198.19.0.9", 99)
	waitFor(t, "the valid host learned", func() bool { return r.eng.HasHost(netip.MustParseAddr("198.19.0.9")) })
	if got := r.rt.Status().Counters.BadHost; got != uint64(len(bad)) {
		t.Errorf("router counted %d refused host addresses, want %d", got, len(bad))
	}
	for _, vip := range bad {
		if r.eng.HasHost(netip.MustParseAddr(vip)) {
			t.Errorf("the router learned a host at %s", vip)
		}
	}
}

func TestValidHostAddr(t *testing.T) {
	p := netip.MustParsePrefix("198.19.0.1/24")
	for i, c := range []struct {
		addr string
		want bool
	}{
		{"198.19.0.2", true}, {"198.19.0.254", true}, {"198.19.0.1", true},
		{"198.19.0.0", false}, {"198.19.0.255", false}, {"198.19.1.2", false},
		{"198.18.0.2", false}, {"::1", false},
	} {
		if got := router.ValidHostAddr(p, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("%d: ValidHostAddr(%s, %s) = %v, want %v", i, p, c.addr, got, c.want)
		}
	}
}
