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
func newKeyedPair(t *testing.T) *pair { t.Helper(); return newKeyedPairWith(t, nil) }

// newKeyedPairWith is newKeyedPair with tune applied to both configs.
func newKeyedPairWith(t *testing.T, tune func(*Config)) *pair {
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
		steady(c) // allCopiesIn: no copy may go to a lapsed path
		if tune != nil {
			tune(c)
		}
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
	_ = p.aLinks[0].WriteTo(h[:], ep(p.bAddrs[0]), 0)
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

// TestKeyedReceiveAllocatesNothing pins keyed mode's receive path: a first
// copy opened and delivered, a later copy refused by the replay window, a
// sealed probe answered.
func TestKeyedReceiveAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	p := newKeyedPair(t)
	waitFor(t, "both ends established", 5*time.Second, func() bool {
		return p.a.HasHost(vipB) && p.b.HasHost(vipA) && p.a.Status().Hosts[0].Established && p.b.Status().Hosts[0].Established
	}, p.a, p.b)
	for i, la := range p.aLinks {
		p.a.AddLink(newNullLink(la.Index(), p.aAddrs[i]))
	}
	p.b.mu.RLock()
	toA := p.b.hosts[vipA].kp.peer
	p.b.mu.RUnlock()
	var ll *localLink
	p.a.mu.RLock()
	for _, l := range p.a.links {
		if l.index == p.aLinks[0].Index() {
			ll = l
		}
	}
	p.a.mu.RUnlock()
	src := ep(p.bAddrs[0])
	inner := ipv4Packet(1)
	copy(inner[12:16], vipB.AsSlice()) // B's own address: covered by B's key
	var msg, dup [bufSize + wire.TagLen]byte
	var probe [wire.TransportOverhead + wire.ProbeV2Len]byte
	seal := func() int {
		n := copy(msg[wire.TransportHeaderLen:], inner)
		out, err := toA.Seal(msg[:wire.TransportHeaderLen+n], wire.MsgData, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		copy(dup[:], out)
		return len(out)
	}
	cases := []struct {
		name string
		f    func()
	}{
		0: {"seal, receive a first copy and a duplicate", func() {
			n := seal()
			p.a.handle(ll, src, msg[:n], 0)
			p.a.handle(ll, src, dup[:n], 0)
		}},
		1: {"receive a sealed probe, reply", func() {
			pr := wire.ProbeV2{Seq: 1, SendTime: 1, SrcPath: 20, Host: vipB}
			_ = pr.Encode(probe[wire.TransportHeaderLen:])
			out, err := toA.Seal(probe[:wire.TransportHeaderLen+wire.ProbeV2Len], wire.MsgProbe, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			p.a.handle(ll, src, out, 0)
		}},
	}
	before := p.a.Status().Counters
	for i, c := range cases {
		if n := testing.AllocsPerRun(500, c.f); n != 0 {
			t.Errorf("case %d: %s allocates %v times per run, want 0", i, c.name, n)
		}
	}
	after := p.a.Status().Counters
	if after.Delivered-before.Delivered < 500 || after.DuplicatesDropped-before.DuplicatesDropped < 500 {
		t.Fatalf("the runs did not take the paths measured: delivered %d, duplicates %d",
			after.Delivered-before.Delivered, after.DuplicatesDropped-before.DuplicatesDropped)
	}
}

// TestKeyedBulkTakesOnePath: the traffic classes hold in keyed mode: a
// bulk (TCP) packet is sealed once and sent on one path, a real-time one
// on every working path.
func TestKeyedBulkTakesOnePath(t *testing.T) {
	p := newKeyedPair(t)
	waitFor(t, "two paths up at A", 5*time.Second, func() bool {
		hs := p.a.Status().Hosts
		return len(hs) == 1 && hs[0].UpPaths == 2
	}, p.a, p.b)
	before := p.a.Status().Counters.TxCopies
	const n = 100
	for i := range uint32(n) {
		if err := p.a.Send(vipB, tcpPacket(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.a.Status().Counters.TxCopies - before; got != n {
		t.Errorf("%d bulk packets went out as %d copies, want one each", n, got)
	}
	waitFor(t, "B delivered the bulk packets", 5*time.Second, func() bool { return p.b.Status().Counters.Delivered >= n }, p.a, p.b)
}

// TestKeyedMeteredTravelsInProbes: keyed mode sends no v1 NIC info; the
// sealed probes carry the metered flag instead, so the far end keeps its
// bulk off that path too.
func TestKeyedMeteredTravelsInProbes(t *testing.T) {
	p := newKeyedPairWith(t, func(c *Config) {
		if c.VIP == vipA {
			c.Policy = Policy{Metered: []string{"eth0*"}}
		}
	})
	waitFor(t, "B told by sealed probes that A's eth0 is metered", 5*time.Second, func() bool {
		for _, h := range p.b.Status().Hosts {
			for _, c := range h.Connections {
				if c.RemoteAddr == p.aAddrs[0].String() && c.State == 2 && c.RemoteMetered {
					return true
				}
			}
		}
		return false
	}, p.a, p.b)
	for _, h := range p.b.Status().Hosts {
		for _, c := range h.Connections {
			if c.RemoteAddr == p.aAddrs[1].String() && c.RemoteMetered {
				t.Errorf("A's unmetered eth1 shows as metered at B")
			}
		}
	}
}

// A key speaks only for the addresses it is the best match for (WireGuard's
// cryptokey routing): a gateway key covers 0.0.0.0/0, but not an address
// another allowed key owns, so the gateway cannot put a packet in from
// that host's address.
func TestKeyedGatewayCannotSpeakForAnAllowedHost(t *testing.T) {
	vipC := netip.MustParseAddr("198.19.0.9")
	p := newKeyedPairWith(t, func(c *Config) {
		if c.VIP != vipB {
			return
		}
		kc, _ := session.GeneratePrivateKey(rand.Reader)
		pc, err := c.Keyed.Node.AddPeer(kc.PublicKey(), netip.PrefixFrom(vipC, 32))
		if err != nil {
			t.Fatal(err)
		}
		c.Keyed.Hosts = map[*session.Peer]netip.Addr{pc: vipC}
	})
	established := func(e *Engine) func() bool {
		return func() bool { h := e.Status().Hosts; return len(h) == 1 && h[0].Established }
	}
	waitFor(t, "A has host B", 5*time.Second, established(p.a), p.a, p.b)
	waitFor(t, "B has host A", 5*time.Second, established(p.b), p.a, p.b)
	forged := ipv4Packet(1)
	copy(forged[12:16], vipC.AsSlice()) // A's key, C's address
	for _, pkt := range [][]byte{forged, ipv4Packet(2)} {
		if err := p.a.Send(vipB, pkt); err != nil {
			t.Fatal(err)
		}
	}
	done := func() bool { u, _ := p.sinkB.counts(); return u+int(p.b.Status().Keyed.NotCovered) >= 2 }
	waitFor(t, "both packets handled", 5*time.Second, done, p.a, p.b)
	if u, _ := p.sinkB.counts(); u != 1 || p.b.Status().Keyed.NotCovered != 1 {
		t.Fatalf("B delivered %d packets (want 1) and refused %d as not covered (want 1): the gateway's key spoke for C",
			u, p.b.Status().Keyed.NotCovered)
	}
}

// A sealed probe an on-path attacker captured and raced from a forged
// source verifies, and teaches the receiver that source as a NIC of the
// host (docs/keyed-protocol.md, known limit: it gets the probe's answer and
// a challenge). It must not also earn a copy of every later handshake
// initiation: those go to paths that answered us.
func TestKeyedRacedProbeEarnsNoInitiations(t *testing.T) {
	p := newKeyedPair(t)
	bothUp := func() bool { return upConns(p.a, vipB) == 2 && upConns(p.b, vipA) == 2 }
	waitFor(t, "both paths up both ways", 5*time.Second, bothUp, p.a, p.b)
	victimAddr := addr("198.18.0.66")
	victim := p.net.NewLink(66, "eth0", victimAddr, "s0")

	// What A seals for B, as an observer of A's path would capture it.
	p.a.mu.RLock()
	hb := p.a.hosts[vipB]
	p.a.mu.RUnlock()
	msg := make([]byte, wire.TransportHeaderLen+wire.ProbeV2Len, 128)
	_ = (&wire.ProbeV2{Host: vipA, SrcPath: 77}).Encode(msg[wire.TransportHeaderLen:])
	sealed, err := hb.kp.peer.Seal(msg, wire.MsgProbe, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.WriteTo(sealed, ep(p.bAddrs[0]), 0); err != nil {
		t.Fatal(err)
	}
	learned := func() bool {
		for _, h := range p.b.Status().Hosts {
			for _, r := range h.Remotes {
				if r.Addr == victimAddr.String() {
					return true
				}
			}
		}
		return false
	}
	waitFor(t, "B learns the raced source as a NIC of A", 2*time.Second, learned, p.b)

	p.b.mu.RLock()
	ha := p.b.hosts[vipA]
	proven := 0
	for _, c := range ha.conns {
		if c.remote.proven.Load() {
			proven++
		}
	}
	before := p.b.keyed.stats.initiations.Load()
	p.b.initiate(ha.kp, p.b.now(), nil)
	sent := p.b.keyed.stats.initiations.Load() - before
	p.b.mu.RUnlock()
	if proven == 0 || sent != uint64(proven) {
		t.Fatalf("B sent %d copies of an initiation for %d proven paths (want one each): the raced source got copies", sent, proven)
	}
}
