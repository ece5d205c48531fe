package router_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/router"
)

// vnode is one in-memory polylink node: engine, router and fake TUN.
type vnode struct {
	eng   *aggregator.Engine
	rt    *router.Router
	tun   *router.FakeTUN
	links map[string]*aggregator.FakeLink // by underlay address
}

func newVNode(t *testing.T, net *aggregator.FakeNetwork, vip string, relay bool, peers []string, links map[string]string, routes ...router.Route) *vnode {
	t.Helper()
	p := netip.MustParsePrefix(vip)
	n := &vnode{tun: router.NewFakeTUN("pl0", 99, 1464), links: map[string]*aggregator.FakeLink{}}
	var ps []netip.AddrPort
	for _, s := range peers {
		ps = append(ps, netip.AddrPortFrom(netip.MustParseAddr(s), 0))
	}
	eng, err := aggregator.New(aggregator.Config{VIP: p.Addr(), Peers: ps, Router: relay,
		// Probes every 20 ms converge fast; paths and hosts outlive a loaded
		// machine's stalls (the race detector, other builds): a path that
		// lapsed or a host forgotten mid-test loses the one packet a test
		// sends, and no test here is about lapsing.
		ProbeInterval: 20 * time.Millisecond, DeadInterval: time.Second, HostTimeout: 2 * time.Second,
		Deliver:    func(from netip.Addr, pkt []byte) { n.rt.Deliver(from, pkt) },
		AcceptHost: func(vip netip.Addr) bool { return n.rt.AcceptHost(vip) }})
	if err != nil {
		t.Fatal(err)
	}
	n.eng = eng
	n.rt = router.New(router.Config{Device: n.tun, Prefix: p, Relay: relay, Routes: routes}, eng)
	n.rt.Start()
	i := 1
	for addr, seg := range links {
		i++
		l := net.NewLink(i, "eth"+seg[1:], netip.MustParseAddr(addr), seg)
		n.links[addr] = l
		eng.AddLink(l)
	}
	t.Cleanup(func() { n.close() })
	return n
}

func (n *vnode) close() {
	n.eng.Close()
	n.tun.Close()
	n.rt.Wait()
}

// udp builds an IPv4/UDP packet src → dst carrying seq, with a valid
// header checksum.
func udp(src, dst string, ttl uint8, seq uint32) []byte {
	p := make([]byte, 60)
	p[0], p[8], p[9] = 0x45, ttl, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], router.Checksum(p[:20]))
	binary.BigEndian.PutUint32(p[28:], seq)
	return p
}

// waitTimeout is how long a wait or an expected packet may take: ample
// on a quiet machine many times over; the race detector on a loaded one
// has needed more than 3 s. How long is never what a test here asserts.
const waitTimeout = 15 * time.Second

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// threeNodes is the seed's network in memory: A —2 links— R —2 links— B;
// rRoutes are R's static routes.
func threeNodes(t *testing.T, rRoutes ...router.Route) (a, r, b *vnode) {
	net := aggregator.NewFakeNetwork()
	r = newVNode(t, net, "198.19.0.1/24", true, nil, map[string]string{
		"198.18.0.3": "s0", "198.18.1.3": "s1", "198.18.2.3": "s2", "198.18.3.3": "s3"}, rRoutes...)
	a = newVNode(t, net, "198.19.0.2/24", false, []string{"198.18.0.3", "198.18.1.3"},
		map[string]string{"198.18.0.2": "s0", "198.18.1.2": "s1"})
	b = newVNode(t, net, "198.19.0.3/24", false, []string{"198.18.2.3", "198.18.3.3"},
		map[string]string{"198.18.2.2": "s2", "198.18.3.2": "s3"})
	// Knowing a host is not reaching it: wait until R has proven a path to
	// each host (each answered R's probes) and each host has proven one to R
	// (R answered theirs, so R is their gateway).
	waitFor(t, "R and both hosts proven to each other", func() bool {
		_, aGW := a.eng.Gateway()
		_, bGW := b.eng.Gateway()
		return aGW && bGW && established(r.eng, "198.19.0.2") && established(r.eng, "198.19.0.3")
	})
	return a, r, b
}

// established reports whether e has proven a path to host vip.
func established(e *aggregator.Engine, vip string) bool {
	for _, h := range e.Status().Hosts {
		if h.VIP == vip {
			return h.Established
		}
	}
	return false
}

func TestRouterRelaysBetweenHosts(t *testing.T) {
	a, r, b := threeNodes(t)
	for i := range uint32(50) {
		a.tun.Inject(udp("198.19.0.2", "198.19.0.3", 64, i))
	}
	for i := range uint32(50) {
		select {
		case pkt := <-b.tun.Written():
			h, ok := router.ParseIPv4(pkt)
			if !ok || h.Dst.String() != "198.19.0.3" || h.TTL != 63 {
				t.Fatalf("packet %d at B: %+v ok=%v, want dst 198.19.0.3 and TTL 63", i, h, ok)
			}
			if router.Checksum(pkt[:20]) != 0 {
				t.Fatalf("packet %d at B: bad header checksum after the TTL decrement", i)
			}
		case <-time.After(waitTimeout):
			dumpNodes(t, a, r, b)
			t.Fatalf("only %d of 50 packets reached B through the router", i)
		}
	}
	if got := r.rt.Status().Counters.Forwarded; got != 50 {
		dumpNodes(t, a, r, b)
		t.Errorf("router forwarded %d, want 50 (each packet once: duplicates stop at the router)", got)
	}
	select {
	case pkt := <-b.tun.Written():
		t.Fatalf("B got an extra packet: %x", pkt[:20])
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRouterAnswersUnknownHostWithICMP(t *testing.T) {
	a, r, _ := threeNodes(t)
	a.tun.Inject(udp("198.19.0.2", "198.19.0.99", 64, 1))
	select {
	case pkt := <-a.tun.Written():
		h, ok := router.ParseIPv4(pkt)
		if !ok || h.Protocol != router.ProtocolICMP || pkt[h.HeaderLen] != router.ICMPTypeDestinationUnreachable ||
			h.Src.String() != "198.19.0.1" {
			t.Fatalf("want ICMP unreachable from the router, got %+v type %d", h, pkt[h.HeaderLen])
		}
	case <-time.After(waitTimeout):
		t.Fatal("no ICMP unreachable came back")
	}
	if got := r.rt.Status().Counters.NoRoute; got != 1 {
		t.Errorf("router no-route count %d, want 1", got)
	}
}

func TestRouterDropsExpiredTTL(t *testing.T) {
	a, r, b := threeNodes(t)
	a.tun.Inject(udp("198.19.0.2", "198.19.0.3", 1, 7))
	waitFor(t, "TTL expiry counted", func() bool { return r.rt.Status().Counters.TTLExpired == 1 })
	select {
	case <-b.tun.Written():
		t.Fatal("a packet whose TTL ran out reached B")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRouterForgetsSilentHost(t *testing.T) {
	_, r, b := threeNodes(t)
	b.close()
	gone := netip.MustParseAddr("198.19.0.3")
	waitFor(t, "silent host removed after the host timeout", func() bool { return !r.eng.HasHost(gone) })
}

// dumpNodes logs what each node's engine and router counted, and every
// connection's state: what a failure of a relay test needs to be read.
func dumpNodes(t *testing.T, ns ...*vnode) {
	t.Helper()
	for _, n := range ns {
		st := n.eng.Status()
		t.Logf("%s engine %+v router %+v", st.VIP, st.Counters, n.rt.Status().Counters)
		for _, h := range st.Hosts {
			t.Logf("  host %s established %v last rx %.1f ms ago", h.VIP, h.Established, h.LastRxMs)
			for _, c := range h.Connections {
				t.Logf("    %s -> %s state %d tx %d rx %d first %d probes %d lost %d",
					c.Local, c.RemoteAddr, c.State, c.TxPackets, c.RxPackets, c.FirstWins, c.ProbesSent, c.ProbesLost)
			}
		}
	}
}
