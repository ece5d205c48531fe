package aggregator

import (
	"crypto/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/session"
	"github.com/polylink/polylink/wire"
)

// keyedPair is a pair whose engines are keyed to each other through
// --peer-key (each is the other's gateway).
func newKeyedPair(t *testing.T) *pair {
	t.Helper()
	ka, _ := session.GeneratePrivateKey(rand.Reader)
	kb, _ := session.GeneratePrivateKey(rand.Reader)
	keyFor := map[netip.Addr][2]any{vipA: {ka, kb}, vipB: {kb, ka}}
	return newPairWith(t, func(c *Config) {
		k := keyFor[c.VIP]
		n, err := session.NewNode(session.Config{PrivateKey: k[0].(session.PrivateKey), SilenceRekey: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		gw, err := n.AddPeer(k[1].(session.PrivateKey).PublicKey(), netip.MustParsePrefix("0.0.0.0/0"))
		if err != nil {
			t.Fatal(err)
		}
		c.Keyed = &Keyed{Node: n, Gateway: gw}
	})
}

func TestKeyedPairDeliversEachPacketOnce(t *testing.T) {
	p := newKeyedPair(t)
	up := func(e *Engine, vip netip.Addr) func() bool {
		return func() bool {
			for _, h := range e.Status().Hosts {
				if h.VIP == vip.String() {
					n := 0
					for _, c := range h.Connections {
						if c.State == 2 {
							n++
						}
					}
					return n == 2
				}
			}
			return false
		}
	}
	waitFor(t, "A has two paths up to B", 5*time.Second, up(p.a, vipB), p.a, p.b)
	waitFor(t, "B has two paths up to A", 5*time.Second, up(p.b, vipA), p.a, p.b)
	const n = 500
	for i := range uint32(n) {
		if err := p.a.Send(vipB, ipv4Packet(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all delivered once", 5*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == n }, p.a, p.b)
	waitFor(t, "all copies in", 5*time.Second, func() bool { return allCopiesIn(p.a, p.b) }, p.a, p.b)
	if u, d := p.sinkB.counts(); u != n || d != 0 {
		t.Fatalf("delivered %d unique, %d duplicates; want %d, 0", u, d, n)
	}
	st := p.b.Status()
	if st.Counters.DuplicatesDropped != n {
		t.Errorf("B dropped %d duplicates, want %d (one per packet: 2 paths)", st.Counters.DuplicatesDropped, n)
	}
	if !st.Keyed.Enabled || len(st.Hosts) != 1 || !st.Hosts[0].Keyed || st.Hosts[0].PublicKey == "" {
		t.Errorf("B's status does not show the keyed host: %+v %+v", st.Keyed, st.Hosts)
	}
	// A keyless packet is refused and counted.
	var h [wire.HeaderLen + 24]byte
	hd := wire.Header{Kind: wire.KindData, Host: vipA, ID: 1}
	_ = hd.Encode(h[:])
	_ = p.aLinks[0].WriteTo(h[:], ep(p.bAddrs[0]))
	waitFor(t, "keyless packet counted", 2*time.Second, func() bool { return p.b.Status().Keyed.KeylessDropped == 1 })
}

func TestKeyedSealAllocatesNothing(t *testing.T) {
	p := newKeyedPair(t)
	waitFor(t, "A has a host B", 5*time.Second, func() bool { return p.a.HasHost(vipB) && p.a.Status().Hosts[0].Established }, p.a, p.b)
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	// The fake network copies every packet it carries; null links do not,
	// so what is measured is the engine's own work: seal once, copy per
	// path, write.
	for i, la := range p.aLinks {
		p.a.AddLink(newNullLink(la.Index(), p.aAddrs[i]))
	}
	pkt := ipv4Packet(1)
	if a := testing.AllocsPerRun(200, func() { _ = p.a.Send(vipB, pkt) }); a != 0 {
		t.Errorf("keyed Send allocates %.1f per packet", a)
	}
}
