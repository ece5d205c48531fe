package aggregator

import (
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// drain counts and empties what reached l.
func drain(l *FakeLink) int {
	n := 0
	for {
		select {
		case <-l.inbox:
			n++
		default:
			return n
		}
	}
}

// forgedMix is packet i of a forger's flood with source index base+i: every
// kind the engine answers, from one spoofed address.
func forgedMix(t *testing.T, i int, host netip.Addr) []byte {
	t.Helper()
	h := wire.Header{State: 2, Host: host, SrcIndex: uint32(100 + i)}
	switch i % 4 {
	case 0:
		h.Kind = wire.KindProbe
	case 1:
		h.Kind = wire.KindProbeReply
	case 2:
		h.Kind = wire.KindReplyProbe
		return bundle(t, h, make([]byte, 2*wire.ProbeLen))
	default:
		h.Kind, h.Forward = wire.KindData, true
		return bundle(t, h, ipv4Packet(uint32(i)))
	}
	return forged(t, h, wire.Probe{SendTime: 1, Seq: uint32(i + 1), Epoch: 77})
}

func TestForgedSourceGetsNoMoreThanItSent(t *testing.T) {
	forgedSourceGetsNoMoreThanItSent(t, Policy{})
}

// A metered NIC tells the far end so beside its probes (NIC info): a
// challenge to an unproven source must still be one packet, not a probe and
// a NIC info.
func TestForgedSourceGetsNoMoreThanItSentOnMeteredNICs(t *testing.T) {
	forgedSourceGetsNoMoreThanItSent(t, Policy{Metered: []string{"eth*"}})
}

func forgedSourceGetsNoMoreThanItSent(t *testing.T, pol Policy) {
	const n = 400
	net := NewFakeNetwork()
	routerAddr, victimAddr := addr("198.18.0.1"), addr("198.18.0.66")
	r, err := New(Config{VIP: addr("198.19.0.1"), Router: true, ProbeInterval: 20 * time.Millisecond, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	rl := net.NewLink(1, "eth0", routerAddr, "s")
	r.AddLink(rl)
	r.AddLink(net.NewLink(2, "eth1", addr("198.18.1.1"), "s")) // a second NIC must not multiply the answers
	victim := net.NewLink(66, "eth0", victimAddr, "s")         // whose address the forger uses; it never answers

	// Forged packets claiming many hosts, all from the victim's address.
	for i := range n {
		host := netip.AddrFrom4([4]byte{198, 19, 1, byte(i % 200)})
		if err := rl.Inject(forgedMix(t, i, host), victimAddr); err != nil {
			t.Fatal(err)
		}
	}
	processed(t, r, func(pkt []byte) error { return rl.Inject(pkt, victimAddr) })
	waitFor(t, "the forged hosts forgotten after the dead interval", 2*time.Second, func() bool {
		return len(r.Status().Hosts) == 0
	}, r)
	// Ten more probe intervals: a host that never answered is never probed
	// unasked, so nothing more may come.
	time.Sleep(10 * r.cfg.ProbeInterval)
	got := drain(victim)
	if got > n {
		t.Fatalf("%d forged packets earned %d packets toward the forged source", n, got)
	}
	if got == 0 {
		t.Fatal("nothing was answered: the flood was not processed as packets from new hosts")
	}
	t.Logf("%d forged packets from one address, %d packets back to it", n, got)
}

func TestForgedNICOfAKnownHostGetsNoMoreThanItSent(t *testing.T) {
	const n = 200
	p := newPair(t)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 && upConns(p.b, vipA) == 2 })
	victimAddr := addr("198.18.0.66")
	victim := p.net.NewLink(66, "eth0", victimAddr, "s0")
	for i := range n { // B's host address, forged NICs at the victim's address
		if err := p.aLinks[0].Inject(forgedMix(t, i, vipB), victimAddr); err != nil {
			t.Fatal(err)
		}
	}
	processed(t, p.a, func(pkt []byte) error { return p.aLinks[0].Inject(pkt, victimAddr) })
	hasForged := func() bool {
		for _, h := range p.a.Status().Hosts {
			for _, r := range h.Remotes {
				if r.Addr == victimAddr.String() {
					return true
				}
			}
		}
		return false
	}
	waitFor(t, "the forged NICs forgotten after the dead interval", 2*time.Second, func() bool { return !hasForged() }, p.a)
	time.Sleep(10 * p.probeEvery)
	if got := drain(victim); got > n {
		t.Fatalf("%d forged packets earned %d packets toward the forged source", n, got)
	}
	// A loaded machine may let a path lapse for a moment; what forged
	// packets must not do is keep a real path down.
	waitFor(t, "both real paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 }, p.a)
	if d := p.a.Status().Counters.PeerRestarts; d != 0 {
		t.Fatalf("forged packets reset B's window %d times", d)
	}
}

// A UDP datagram from source port 0 names a raw IP-in-IP endpoint: taken,
// it would make a connection between a UDP link and a raw endpoint (and
// could join a raw NIC of a known host). It is dropped before anything is
// learned.
func TestUDPFromPortZeroLearnsNothing(t *testing.T) {
	net := NewFakeNetwork()
	r, err := New(Config{VIP: addr("198.19.0.1"), Router: true, ProbeInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	ul := net.NewEndpointLink(1, "eth0", netip.AddrPortFrom(addr("198.18.0.1"), 45820), "s")
	r.AddLink(ul)
	from := netip.AddrPortFrom(addr("198.18.0.66"), 0)
	for i := range 4 {
		if err := ul.InjectFrom(forgedMix(t, i, addr("198.19.1.5")), from); err != nil {
			t.Fatal(err)
		}
	}
	processed(t, r, func(pkt []byte) error { return ul.InjectFrom(pkt, netip.AddrPortFrom(from.Addr(), 4000)) })
	if st := r.Status(); len(st.Hosts) != 0 || st.Counters.Misdirected != 4 {
		t.Fatalf("UDP from port 0: hosts %+v, misdirected %d (want none, 4)", st.Hosts, st.Counters.Misdirected)
	}
}
