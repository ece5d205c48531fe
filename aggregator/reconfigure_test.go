package aggregator

import (
	"net/netip"
	"testing"
	"time"
)

// TestSetPeersAddsPathsMidStream: A knows one of router B's two
// addresses; adding the second while a stream runs brings its path up
// within a few probe intervals, and no packet of the stream is lost.
func TestSetPeersAddsPathsMidStream(t *testing.T) {
	p := &pair{net: NewFakeNetwork(), sinkA: newSink(), sinkB: newSink(), probeEvery: 20 * time.Millisecond,
		aAddrs: []netip.Addr{addr("198.18.0.2"), addr("198.18.1.2")},
		bAddrs: []netip.Addr{addr("198.18.0.3"), addr("198.18.1.3")}}
	p.a = p.newEngine(t, vipA, p.bAddrs[:1], p.sinkA)
	b, err := New(Config{VIP: vipB, Router: true, ProbeInterval: p.probeEvery, Deliver: p.sinkB.deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	p.b = b
	for i, seg := range []string{"s0", "s1"} {
		p.a.AddLink(p.net.NewLink(10+i, []string{"eth0", "eth1"}[i], p.aAddrs[i], seg))
		p.b.AddLink(p.net.NewLink(20+i, []string{"eth0", "eth1"}[i], p.bAddrs[i], seg))
	}
	waitFor(t, "A's first path up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 1 })
	if up := upConns(p.a, vipB); up != 1 {
		t.Fatalf("%d paths up before the second peer address is known", up)
	}

	const n = 600
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if err := p.a.Send(vipB, ipv4Packet(uint32(i))); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	set := time.Now()
	p.a.SetPeers(raw(p.bAddrs...))
	p.a.SetProbeInterval(10 * time.Millisecond) // under traffic: the race detector watches
	waitFor(t, "the new peer address's path up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	t.Logf("second path up %v after SetPeers (probe interval %v)", time.Since(set).Round(time.Millisecond), p.probeEvery)
	<-done
	waitFor(t, "every packet delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == n })
	if st := p.a.Status(); len(st.Peers) != 2 {
		t.Errorf("status peers %v, want both", st.Peers)
	}
	p.a.SetPeers(raw(p.bAddrs...)) // unchanged: nothing happens
	p.a.Close()
	p.a.SetPeers(nil) // after Close: no panic, nothing happens
}

func TestSetProbeIntervalKeepsTheDeadRatio(t *testing.T) {
	e, err := New(Config{VIP: vipA, Router: true, ProbeInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.SetProbeInterval(20 * time.Millisecond)
	e.SetProbeInterval(0) // ignored
	st := e.Status()
	if st.ProbeIntervalMs != 20 || st.DeadIntervalMs != 60 {
		t.Fatalf("probe %v ms, dead %v ms; want 20 and 60", st.ProbeIntervalMs, st.DeadIntervalMs)
	}
	for range 3 { // more changes than the timer takes: the last one wins, nothing blocks
		e.SetProbeInterval(50 * time.Millisecond)
		e.SetProbeInterval(30 * time.Millisecond)
	}
	if st := e.Status(); st.ProbeIntervalMs != 30 {
		t.Fatalf("probe %v ms, want 30", st.ProbeIntervalMs)
	}
}
