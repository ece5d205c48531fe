package aggregator

import (
	"sync"
	"testing"
	"time"
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
