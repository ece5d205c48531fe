package aggregator

import (
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/session"
)

// A key removed on a running engine: its host goes at once, its sealed
// packets are refused and counted, nothing is delivered; allowed again, it
// handshakes afresh and its packets are delivered again.
func TestSetKeyedRemovesAndReadmitsAKey(t *testing.T) {
	p := newKeyedPair(t)
	established := func(e *Engine, vip netip.Addr) func() bool {
		return func() bool {
			for _, h := range e.Status().Hosts {
				if h.VIP == vip.String() && h.Established && h.Keyed {
					return true
				}
			}
			return false
		}
	}
	waitFor(t, "B has A established", 5*time.Second, established(p.b, vipA), p.a, p.b)
	send := func(from, n uint32) {
		for i := range n {
			_ = p.a.Send(vipB, ipv4Packet(from+i))
		}
	}
	send(0, 100)
	waitFor(t, "100 delivered", 5*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 100 }, p.a, p.b)

	node := p.b.keyed.node
	keyA := p.a.keyed.node.PublicKey()
	if !node.RemovePeer(keyA) {
		t.Fatal("A's key was not a peer of B")
	}
	p.b.SetKeyed(nil, nil)
	if p.b.HasHost(vipA) {
		t.Fatal("B still has host A after its key was removed")
	}
	if st := p.b.Status(); st.Keyed.AllowedKeys != 0 {
		t.Fatalf("B's status shows %d allowed keys, want 0", st.Keyed.AllowedKeys)
	}
	send(100, 100) // A still has its keypair: sealed, sent, refused
	unknown := session.ErrUnknownIndex.Error()
	waitFor(t, "B refuses A's packets as unknown index", 5*time.Second, func() bool {
		return p.b.Status().Keyed.Dropped[unknown] >= 100
	}, p.a, p.b)
	if u, _ := p.sinkB.counts(); u != 100 {
		t.Fatalf("B delivered %d packets, want the 100 sent before the removal", u)
	}
	if p.b.HasHost(vipA) {
		t.Fatal("A's probes made B learn it again after its key was removed")
	}

	gw, err := node.AddPeer(keyA, netip.MustParsePrefix("0.0.0.0/0"))
	if err != nil {
		t.Fatal(err)
	}
	p.b.SetKeyed(nil, gw)
	waitFor(t, "A admitted again and established", 10*time.Second, established(p.b, vipA), p.a, p.b)
	waitFor(t, "A's packets delivered again", 10*time.Second, func() bool {
		send(1000, 1)
		u, _ := p.sinkB.counts()
		return u > 100
	}, p.a, p.b)
}
