package aggregator

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// TestFlappingPathsDropNothingAsUnproven streams both ways while every path
// is cut and restored 100 times, for a moment, for longer than the dead
// interval (the path goes down) and for longer than the host timeout (each
// end forgets the other's NIC and must prove it again). Whenever a path is
// up in both directions, each end must send only where the other accepts:
// nothing may be dropped as unproven, except copies sent while the sender
// had no path up at all (sent blind, to every NIC that ever answered; the
// far end may have forgotten some).
func TestFlappingPathsDropNothingAsUnproven(t *testing.T) {
	const flapsPerPath = 100
	probe := 5 * time.Millisecond
	p := newPairWith(t, func(c *Config) {
		c.ProbeInterval = probe
		c.HostTimeout = 8 * probe
	})
	p.probeEvery = probe
	bothUp := func() bool { return upConns(p.a, vipB) == 2 && upConns(p.b, vipA) == 2 }
	waitFor(t, "paths up", 3*time.Second, bothUp)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, dir := range []struct {
		from *Engine
		to   string
	}{{p.a, "B"}, {p.b, "A"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vip := vipB
			if dir.to == "A" {
				vip = vipA
			}
			deadline := time.Now().Add(60 * time.Second) // bounded even if the flapper hangs
			for i := uint32(0); time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				dir.from.Send(vip, ipv4Packet(i))
				time.Sleep(300 * time.Microsecond)
			}
		}()
	}

	downFor := []time.Duration{probe / 5, 5 * probe, 11 * probe} // brief, past the dead interval, past the host timeout
	for i := range 2 * flapsPerPath {
		seg := []string{"s0", "s1"}[i%2]
		p.net.SetDown(seg, true)
		time.Sleep(downFor[(i/2)%len(downFor)])
		p.net.SetDown(seg, false)
		waitFor(t, "both paths up again after a flap", 3*time.Second, bothUp, p.a, p.b)
	}
	close(stop)
	wg.Wait()

	a, b := p.a.Status().Counters, p.b.Status().Counters
	t.Logf("A: %d copies (%d blind), %d unproven dropped; B: %d copies (%d blind), %d unproven dropped",
		a.TxCopies, a.TxCopiesBlind, a.UnprovenDropped, b.TxCopies, b.TxCopiesBlind, b.UnprovenDropped)
	if b.UnprovenDropped > a.TxCopiesBlind {
		t.Errorf("B dropped %d copies from A as unproven; A sent only %d with no path up", b.UnprovenDropped, a.TxCopiesBlind)
	}
	if a.UnprovenDropped > b.TxCopiesBlind {
		t.Errorf("A dropped %d copies from B as unproven; B sent only %d with no path up", a.UnprovenDropped, b.TxCopiesBlind)
	}
	if a.Delivered == 0 || b.Delivered == 0 {
		t.Fatalf("nothing streamed: delivered A %d, B %d", a.Delivered, b.Delivered)
	}
}

// TestLostChallengeLetsNoDataThrough loses the one packet that carries the
// receiver's challenge when a forgotten path comes back. The sender must
// not prove the path (and put data on it) before the receiver can: the
// receiver answers nothing but reply-probes on that path until one of them
// is answered.
func TestLostChallengeLetsNoDataThrough(t *testing.T) {
	probe := 10 * time.Millisecond
	net := NewFakeNetwork()
	aAddrs := []netip.Addr{addr("198.18.0.2"), addr("198.18.1.2")}
	bAddrs := []netip.Addr{addr("198.18.0.3"), addr("198.18.1.3")}
	sb := newSink()
	// B is a router with no peers: only A's probes bring the path back.
	a, err := New(Config{VIP: vipA, Peers: raw(bAddrs...), ProbeInterval: probe, HostTimeout: 6 * probe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := New(Config{VIP: vipB, Router: true, ProbeInterval: probe, HostTimeout: 6 * probe, Deliver: sb.deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var lost atomic.Int32
	armed := atomic.Bool{}
	for i, seg := range []string{"s0", "s1"} {
		a.AddLink(net.NewLink(10+i, "eth"+seg[1:], aAddrs[i], seg))
		l := net.NewLink(20+i, "eth"+seg[1:], bAddrs[i], seg)
		if i == 0 {
			l.lose = func(pkt []byte) bool { // B's first challenge once armed
				var h wire.Header
				if _, err := wire.Decode(pkt, &h); err != nil || h.Kind == wire.KindData || h.Kind == wire.KindProbeReply {
					return false
				}
				if armed.CompareAndSwap(true, false) {
					lost.Add(1)
					return true
				}
				return false
			}
		}
		b.AddLink(l)
	}
	bothUp := func() bool { return upConns(a, vipB) == 2 && upConns(b, vipA) == 2 }
	waitFor(t, "paths up", 3*time.Second, bothUp)
	nics := func(e *Engine) int {
		for _, h := range e.Status().Hosts {
			return len(h.Remotes)
		}
		return 0
	}

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // A streams to B, bounded in time
		defer close(done)
		deadline := time.Now().Add(30 * time.Second)
		for i := uint32(0); time.Now().Before(deadline); i++ {
			select {
			case <-stop:
				return
			default:
			}
			a.Send(vipB, ipv4Packet(i))
			time.Sleep(200 * time.Microsecond)
		}
	}()
	net.SetDown("s0", true)
	waitFor(t, "both ends forgot the cut path's NICs", 3*time.Second, func() bool { return nics(a) == 1 && nics(b) == 1 }, a, b)
	armed.Store(true)
	net.SetDown("s0", false)
	waitFor(t, "the path proven again both ways", 3*time.Second, bothUp, a, b)
	close(stop)
	<-done
	if lost.Load() != 1 {
		t.Fatalf("%d challenges lost, want 1: the test lost nothing", lost.Load())
	}
	ca, cb := a.Status().Counters, b.Status().Counters
	t.Logf("A sent %d copies (%d blind); B dropped %d as unproven", ca.TxCopies, ca.TxCopiesBlind, cb.UnprovenDropped)
	if cb.UnprovenDropped > ca.TxCopiesBlind {
		t.Fatalf("B dropped %d copies as unproven, A sent only %d blind", cb.UnprovenDropped, ca.TxCopiesBlind)
	}
}
