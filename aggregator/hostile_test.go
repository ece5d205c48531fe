package aggregator

import (
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// forged builds a bundle packet as a stranger would: any host, index, state.
func forged(t testing.TB, h wire.Header, p wire.Probe) []byte {
	t.Helper()
	b := make([]byte, wire.HeaderLen+wire.ProbeLen)
	if err := h.Encode(b); err != nil {
		t.Fatal(err)
	}
	if err := p.Encode(b[wire.HeaderLen:]); err != nil {
		t.Fatal(err)
	}
	return b
}

// processed waits until e has counted a malformed marker packet sent after
// everything the test injected on the same path: one reader takes a link's
// packets in order, so by then every earlier packet went through handle.
// send injects the marker.
func processed(t *testing.T, e *Engine, send func(pkt []byte) error) {
	t.Helper()
	reason := wire.ErrVersion.Error()
	before := e.Status().Malformed[reason]
	marker := make([]byte, wire.HeaderLen)
	marker[2], marker[3] = wire.Magic, 0xF0 // version 15
	if err := send(marker); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the injected packets processed", 2*time.Second, func() bool {
		return e.Status().Malformed[reason] == before+1
	})
}

func srttOf(e *Engine, vip netip.Addr, local string) float64 {
	for _, h := range e.Status().Hosts {
		if h.VIP == vip.String() {
			for _, c := range h.Connections {
				if c.Local == local && c.State == 2 {
					return c.RTTMs
				}
			}
		}
	}
	return -1
}

func TestForgedProbeReplyGivesNoRTTSample(t *testing.T) {
	p := newPair(t)
	waitFor(t, "paths up with an RTT", 2*time.Second, func() bool { return srttOf(p.a, vipB, "eth0") > 0 })
	before := srttOf(p.a, vipB, "eth0")
	unmatched := p.a.Status().Counters.UnmatchedReplies
	// B's identity on link 0, but a send time from long ago and a sequence
	// A never used: a real reply would give an RTT of ~1000 s.
	for seq := range uint32(50) {
		pkt := forged(t, wire.Header{State: 2, Kind: wire.KindProbeReply, Host: vipB, SrcIndex: 20, DstIndex: 10},
			wire.Probe{SendTime: 1, Seq: 1<<20 + seq, Epoch: 7})
		if err := p.aLinks[0].Inject(pkt, p.bAddrs[0]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the 50 forged replies counted as unmatched", 2*time.Second, func() bool {
		return p.a.Status().Counters.UnmatchedReplies-unmatched >= 50
	})
	if after := srttOf(p.a, vipB, "eth0"); after > 10*before+1 {
		t.Fatalf("forged replies moved the RTT from %.3f ms to %.3f ms", before, after)
	}
}

func TestMisdirectedPacketsAreDropped(t *testing.T) {
	p := newPair(t)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	pkt := forged(t, wire.Header{State: 2, Kind: wire.KindProbe, Host: vipB, SrcIndex: 20, DstIndex: 11},
		wire.Probe{SendTime: 1, Seq: 1, Epoch: 7})
	if err := p.aLinks[0].Inject(pkt, p.bAddrs[0]); err != nil { // link 0 has index 10, not 11
		t.Fatal(err)
	}
	waitFor(t, "misdirected counted", time.Second, func() bool { return p.a.Status().Counters.Misdirected == 1 })
}

func TestForgedHostsCannotLockOutARealOne(t *testing.T) {
	net := NewFakeNetwork()
	routerAddr, hostAddr, strangerAddr := addr("198.18.0.1"), addr("198.18.0.2"), addr("198.18.0.66")
	r, err := New(Config{VIP: addr("198.19.0.1"), Router: true, MaxHosts: 4, ProbeInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	r.AddLink(net.NewLink(1, "eth0", routerAddr, "s"))
	stranger := net.NewLink(66, "eth0", strangerAddr, "s")
	for i := range 200 { // a flood of forged hosts, each "already up"
		pkt := forged(t, wire.Header{State: 2, Kind: wire.KindProbe, Host: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}),
			SrcIndex: uint32(i + 1)}, wire.Probe{SendTime: 1, Seq: 1, Epoch: 9})
		if err := stranger.WriteTo(pkt, ep(routerAddr), 0); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the flood processed", 2*time.Second, func() bool { return r.Status().Counters.RxPackets >= 200 })
	if n := len(r.Status().Hosts); n > 4 {
		t.Fatalf("host table holds %d hosts, limit 4", n)
	}
	h, err := New(Config{VIP: addr("198.19.0.2"), Peers: raw(routerAddr), ProbeInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	h.AddLink(net.NewLink(2, "eth0", hostAddr, "s"))
	waitFor(t, "the real host admitted and established", 2*time.Second, func() bool {
		for _, hs := range r.Status().Hosts {
			if hs.VIP == "198.19.0.2" && hs.Established {
				return true
			}
		}
		return false
	})
	rx := r.Status().Counters.RxPackets
	for i := range 100 { // a second flood must not evict the proven host
		pkt := forged(t, wire.Header{State: 2, Kind: wire.KindProbe, Host: netip.AddrFrom4([4]byte{10, 9, 9, byte(i)}), SrcIndex: 5},
			wire.Probe{SendTime: 1, Seq: 1, Epoch: 9})
		if err := stranger.WriteTo(pkt, ep(routerAddr), 0); err != nil {
			t.Fatal(err)
		}
	}
	processed(t, r, func(pkt []byte) error { return stranger.WriteTo(pkt, ep(routerAddr), 0) })
	if got := r.Status().Counters.RxPackets - rx; got < 101 {
		t.Fatalf("router read %d packets, want the 100 forged ones and the marker", got)
	}
	if !r.HasHost(addr("198.19.0.2")) {
		t.Fatal("a forged flood evicted the established host")
	}
}

func TestForgedStateCannotOpenAPath(t *testing.T) {
	// Steady: allCopiesIn needs paths that do not lapse, and the spoofed
	// NIC must still be there (not forgotten) when its state is checked.
	p := newPairWith(t, steady)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	spoofer := p.net.NewLink(66, "eth0", addr("198.18.0.66"), "s0")
	// Claims to be B's NIC 20 ("already up", state 2) from its own address.
	pkt := forged(t, wire.Header{State: 2, Kind: wire.KindProbe, Host: vipB, SrcIndex: 20}, wire.Probe{SendTime: 1, Seq: 1, Epoch: 5})
	for range 5 {
		if err := spoofer.WriteTo(pkt, ep(p.aAddrs[0]), 0); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the spoofed NIC learned", time.Second, func() bool {
		for _, h := range p.a.Status().Hosts {
			for _, c := range h.Connections {
				if c.RemoteAddr == "198.18.0.66" {
					return true
				}
			}
		}
		return false
	})
	for i := range uint32(20) {
		p.a.Send(vipB, ipv4Packet(i))
	}
	waitFor(t, "B got the data", time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 20 })
	// Both copies of every packet arrived, so A's link queues are past the
	// data: whatever A sent the spoofer with it is in the spoofer's inbox.
	waitFor(t, "B got every copy", time.Second, func() bool { return allCopiesIn(p.a, p.b) })
	for _, h := range p.a.Status().Hosts {
		for _, c := range h.Connections {
			if c.RemoteAddr == "198.18.0.66" && (c.State == 2 || c.Carrying) {
				t.Fatalf("a forged state opened a path: %+v", c)
			}
		}
	}
	// A loaded machine may let a path lapse for a moment; what forged
	// packets must not do is keep a real path down.
	waitFor(t, "both real paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 }, p.a)
	for len(spoofer.inbox) > 0 {
		fp := <-spoofer.inbox
		var h wire.Header
		if _, err := wire.Decode(fp.data, &h); err == nil && h.Kind == wire.KindData {
			t.Fatal("the spoofer received a data packet")
		}
	}
}

func TestForgedEpochsDoNotResetTheWindow(t *testing.T) {
	p := newPair(t)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	// B's own address and NIC index, a new epoch every time: what a blind
	// spoofer can send. Only B's answers to A's challenges count, and those
	// carry B's real epoch.
	for i := range uint32(100) {
		pkt := forged(t, wire.Header{State: 2, Kind: wire.KindProbe, Host: vipB, SrcIndex: 20, DstIndex: 10},
			wire.Probe{SendTime: 1, Seq: i, Epoch: 1000 + i})
		if err := p.aLinks[0].Inject(pkt, p.bAddrs[0]); err != nil {
			t.Fatal(err)
		}
	}
	processed(t, p.a, func(pkt []byte) error { return p.aLinks[0].Inject(pkt, p.bAddrs[0]) })
	if n := p.a.Status().Counters.PeerRestarts; n != 0 {
		t.Fatalf("forged epochs reset B's window %d times", n)
	}
	// A loaded machine may let a path lapse for a moment; what forged
	// packets must not do is keep a real path down.
	waitFor(t, "both real paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 }, p.a)
}

func TestStrangerAnsweringProbesGetsNoData(t *testing.T) {
	p := newPair(t)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	strangerAddr := addr("198.18.0.77")
	stranger := p.net.NewLink(77, "eth0", strangerAddr, "s0")
	claim := forged(t, wire.Header{State: 2, Kind: wire.KindProbe, Host: vipB, SrcIndex: 99}, wire.Probe{SendTime: 1, Seq: 1, Epoch: 42})
	if err := stranger.WriteTo(claim, ep(p.aAddrs[0]), 0); err != nil {
		t.Fatal(err)
	}
	// The stranger answers every probe A sends it, echoing sequence and
	// send time, but cannot know B's epoch.
	answered := 0
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		select {
		case fp := <-stranger.inbox:
			var h wire.Header
			body, err := wire.Decode(fp.data, &h)
			if err != nil {
				continue
			}
			if h.Kind == wire.KindData {
				t.Fatal("the stranger received a data packet")
			}
			var pr, ignored wire.Probe
			switch h.Kind {
			case wire.KindProbe:
				err = wire.DecodeProbe(body, &pr)
			case wire.KindReplyProbe:
				err = wire.DecodeReplyProbe(body, &ignored, &pr)
			default:
				continue
			}
			if err != nil {
				continue
			}
			pr.Epoch = 42
			reply := forged(t, wire.Header{State: 2, Kind: wire.KindProbeReply, Host: vipB, SrcIndex: 99, DstIndex: h.SrcIndex}, pr)
			stranger.WriteTo(reply, fp.src, 0)
			answered++
		case <-time.After(10 * time.Millisecond):
		}
		if answered > 0 {
			for i := range uint32(5) {
				p.a.Send(vipB, ipv4Packet(i))
			}
		}
	}
	if answered == 0 {
		t.Fatal("A never probed the stranger's NIC, so the test proves nothing")
	}
	for _, h := range p.a.Status().Hosts {
		for _, c := range h.Connections {
			if c.RemoteAddr == strangerAddr.String() && c.State == 2 {
				t.Fatalf("a stranger answering probes with a wrong epoch was taken for B: %+v", c)
			}
		}
	}
	if n := p.a.Status().Counters.PeerRestarts; n != 0 {
		t.Fatalf("the stranger reset B's window %d times", n)
	}
}
