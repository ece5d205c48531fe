package aggregator

import (
	"testing"
	"time"
)

// connsOver counts e's connections over the local link with index.
func connsOver(e *Engine, index int) int {
	n := 0
	for _, h := range e.Status().Hosts {
		for _, c := range h.Connections {
			if c.LocalIndex == index {
				n++
			}
		}
	}
	return n
}

func TestRemoveLinkKeepsTheOthers(t *testing.T) {
	p := newPair(t)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 && upConns(p.b, vipA) == 2 })
	p.a.RemoveLink(10)
	p.a.RemoveLink(99) // unknown: nothing happens
	if n := connsOver(p.a, 10); n != 0 {
		t.Fatalf("%d connections left over the removed link", n)
	}
	if st := p.a.Status(); len(st.Local) != 1 || st.Local[0].Index != 11 {
		t.Fatalf("local links after removal: %+v", st.Local)
	}
	select {
	case <-p.aLinks[0].closed:
	default:
		t.Fatal("the removed link was not closed")
	}
	for i := range uint32(100) {
		if err := p.a.Send(vipB, ipv4Packet(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the stream on the remaining link", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 100 })
	// The NIC comes back: its connections are made again and proven.
	p.a.AddLink(p.net.NewLink(10, "eth0", p.aAddrs[0], "s0"))
	waitFor(t, "both paths up again", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 && upConns(p.b, vipA) == 2 })
}

func TestStalledLinkDropsOnlyItsOwnCopies(t *testing.T) {
	const queue = 32
	p := newPairWith(t, func(c *Config) { c.QueueLen = queue; c.DeadInterval = time.Second })
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })

	// Unstalled, a copy is written from Send's own goroutine: counted
	// before Send returns, nothing queued.
	tx := func(local string) uint64 {
		for _, c := range p.a.Status().Hosts[0].Connections {
			if c.Local == local && c.State == 2 {
				return c.TxPackets
			}
		}
		return 0
	}
	// A probe or reply the timer sends meanwhile counts there too (a
	// loaded machine widens the moment): every write past the one copy
	// must be one of those.
	control := func() uint64 { return p.a.Status().Counters.ProbesSent }
	control0, before := control(), tx("eth0")
	if err := p.a.Send(vipB, ipv4Packet(0)); err != nil {
		t.Fatal(err)
	}
	got := tx("eth0") - before
	if got < 1 {
		t.Fatalf("a copy sent directly is counted when Send returns: got %d, want 1", got)
	}
	waitFor(t, "every write on eth0 past the copy a control packet", 2*time.Second, func() bool { return got-1 <= control()-control0 })

	// eth0's socket is full: its copies queue, then drop; eth1 carries on.
	p.aLinks[0].SetStalled(true)
	const n = 200
	for i := range uint32(n) {
		if err := p.a.Send(vipB, ipv4Packet(1+i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every packet over the other link", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == n+1 })
	st := p.a.Status()
	if st.Counters.QueueDrops < n-queue-1 {
		t.Fatalf("queue drops %d, want at least %d (a full queue drops rather than blocks)", st.Counters.QueueDrops, n-queue-1)
	}
	var connDrops uint64
	for _, c := range st.Hosts[0].Connections {
		if c.Local == "eth1" && c.QueueDrops != 0 {
			t.Fatalf("the healthy link dropped %d copies", c.QueueDrops)
		}
		connDrops += c.QueueDrops
	}
	if connDrops != st.Counters.QueueDrops {
		t.Fatalf("per-connection drops %d, engine-wide %d", connDrops, st.Counters.QueueDrops)
	}
	// It drains again: what was queued is written, and new copies go out.
	p.aLinks[0].SetStalled(false)
	waitFor(t, "the queue drained", 2*time.Second, func() bool { return p.a.Status().Local[0].QueueLen == 0 })
	if err := p.a.Send(vipB, ipv4Packet(9999)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream goes on", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == n+2 }, p.a, p.b)
}
