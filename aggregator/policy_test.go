package aggregator

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/polylink/polylink/classify"
	"github.com/polylink/polylink/wire"
)

// tcpPacket is a bulk packet (TCP) carrying seq where ipv4Packet's UDP
// packets carry theirs, so the sinks count both.
func tcpPacket(seq uint32) []byte {
	p := ipv4Packet(seq)
	p[9] = classify.ProtoTCP
	binary.BigEndian.PutUint32(p[20:24], seq)
	return p
}

// newPolicyPair is newPair with a policy on each engine.
func newPolicyPair(t *testing.T, pa, pb Policy) *pair { return newPolicyPairLinks(t, pa, pb, false, 0) }

// directLink is a FakeLink that also sends from the caller's goroutine
// (TryWriter), as linkmon's sockets do.
type directLink struct{ *FakeLink }

// TryWriteTo implements TryWriter.
func (l directLink) TryWriteTo(pkt []byte, dst netip.AddrPort, tos uint8) (bool, error) {
	return true, l.WriteTo(pkt, dst, tos)
}

// newPolicyPairLinks is newPolicyPair; direct gives A's links TryWriteTo;
// a dead interval (0: the default) keeps paths up through a loaded
// machine's stalls where a test needs them steady.
func newPolicyPairLinks(t *testing.T, pa, pb Policy, direct bool, dead time.Duration) *pair {
	t.Helper()
	p := &pair{net: NewFakeNetwork(), sinkA: newSink(), sinkB: newSink(), probeEvery: 20 * time.Millisecond,
		aAddrs: []netip.Addr{addr("198.18.0.2"), addr("198.18.1.2")},
		bAddrs: []netip.Addr{addr("198.18.0.3"), addr("198.18.1.3")}}
	mk := func(vip netip.Addr, peers []netip.Addr, s *sink, pol Policy) *Engine {
		e, err := New(Config{VIP: vip, Peers: raw(peers...), ProbeInterval: p.probeEvery, DeadInterval: dead, Deliver: s.deliver, Policy: pol})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	p.a = mk(vipA, p.bAddrs, p.sinkA, pa)
	p.b = mk(vipB, p.aAddrs, p.sinkB, pb)
	for i, seg := range []string{"s0", "s1"} {
		la := p.net.NewLink(10+i, []string{"eth0", "eth1"}[i], p.aAddrs[i], seg)
		p.aLinks = append(p.aLinks, la)
		if direct {
			p.a.AddLink(directLink{la})
		} else {
			p.a.AddLink(la)
		}
		p.b.AddLink(p.net.NewLink(20+i, []string{"eth0", "eth1"}[i], p.bAddrs[i], seg))
	}
	waitFor(t, "A's two paths to B up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	waitFor(t, "B's two paths to A up", 2*time.Second, func() bool { return upConns(p.b, vipA) == 2 })
	return p
}

// classTx sums a host's per-path class counters: bulk packets per local
// NIC name, and real-time packets per local NIC name.
func classTx(e *Engine, vip netip.Addr) (bulk, rt map[string]uint64, hs HostStatus) {
	bulk, rt = map[string]uint64{}, map[string]uint64{}
	for _, h := range e.Status().Hosts {
		if h.VIP == vip.String() {
			hs = h
			for _, c := range h.Connections {
				bulk[c.Local] += c.TxBulkPackets
				rt[c.Local] += c.TxRealtimePackets
			}
		}
	}
	return bulk, rt, hs
}

func sendBoth(t *testing.T, e *Engine, to netip.Addr, from, n uint32) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := e.Send(to, tcpPacket(2*i)); err != nil {
			t.Fatal(err)
		}
		if err := e.Send(to, ipv4Packet(2*i+1)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(time.Millisecond) // stay under the fake inboxes' bound
		}
	}
}

func TestBulkOnOnePathRealTimeOnEvery(t *testing.T) {
	p := newPolicyPairLinks(t, Policy{}, Policy{}, false, time.Second)
	waitFor(t, "the policy's tick", 2*time.Second, func() bool { _, _, hs := classTx(p.a, vipB); return hs.UpPaths == 2 })
	// A path's cost is its base RTT (ms) + 1. Right after the handshake it
	// rests on a sample or two, and on the fake network those are
	// scheduling noise: bulk moving to a path 30 % cheaper then is the
	// design, not this test's subject. Once both bases are under 0.3 ms
	// (they only fall), no cost can be under 0.7 of the other: bulk must
	// stay where it is.
	waitFor(t, "both paths' base RTT under 0.3 ms", 2*time.Second, func() bool {
		p.a.mu.RLock()
		defer p.a.mu.RUnlock()
		n := 0
		for _, c := range p.a.hosts[vipB].conns {
			if b := c.pol.baseRTT.Load(); b > 0 && b < int64(300*time.Microsecond) {
				n++
			}
		}
		return n == 2
	})
	sendBoth(t, p.a, vipB, 0, 300)
	waitFor(t, "all 600 packets delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 600 })
	bulk, rt, hs := classTx(p.a, vipB)
	if len(bulk) != 2 || (bulk["eth0"] != 300) == (bulk["eth1"] != 300) || bulk["eth0"]+bulk["eth1"] != 300 {
		t.Errorf("bulk per path %v: want all 300 on one path, none on the other", bulk)
	}
	if rt["eth0"] != 300 || rt["eth1"] != 300 {
		t.Errorf("real-time per path %v: want 300 copies on each", rt)
	}
	if hs.BulkPath == "" || hs.UpPaths != 2 || hs.SecondCopy {
		t.Errorf("host: bulk path %q, up %d, second copy %v", hs.BulkPath, hs.UpPaths, hs.SecondCopy)
	}
	st := p.a.Status()
	if st.Counters.TxBulk != 300 || st.Counters.TxRealtime != 300 {
		t.Errorf("counters: bulk %d real-time %d, want 300 each", st.Counters.TxBulk, st.Counters.TxRealtime)
	}
	// The test packets carry their sequence number where the ports are:
	// each is a flow of its own.
	if len(st.Flows) != maxFlowsShown {
		t.Fatalf("%d flows shown, want the most recent %d", len(st.Flows), maxFlowsShown)
	}
	for _, f := range st.Flows {
		want := map[string]classify.Class{"tcp": classify.Bulk, "udp": classify.RealTime}[f.Proto]
		if f.Class != want || f.Packets != 1 || len(f.Paths) != map[string]int{"tcp": 1, "udp": 2}[f.Proto] {
			t.Errorf("flow %s: class %v, %d packets on %d paths", f.Readable, f.Class, f.Packets, len(f.Paths))
		}
	}
	if _, dups := p.sinkB.counts(); dups != 0 {
		t.Errorf("application saw %d duplicates", dups)
	}
}

func TestBulkMovesAtOnceWhenItsPathFails(t *testing.T) {
	// Steady: the surviving path must not lapse while the 200 cross it
	// (bulk with no path is dropped); the cut one fails after 1 s.
	p := newPolicyPairLinks(t, Policy{}, Policy{}, false, time.Second)
	sendBoth(t, p.a, vipB, 0, 10)
	waitFor(t, "the first 20 delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 20 })
	bulk, _, _ := classTx(p.a, vipB)
	was, other, seg := "eth0", "eth1", "s0"
	if bulk["eth1"] > 0 {
		was, other, seg = "eth1", "eth0", "s1"
	}
	p.net.SetDown(seg, true)
	// Failed: nothing received on it for the dead interval.
	waitFor(t, "the bulk path failed", 2*time.Second, func() bool {
		_, _, hs := classTx(p.a, vipB)
		return upConns(p.a, vipB) == 1 && strings.HasPrefix(hs.BulkPath, other)
	})
	sendBoth(t, p.a, vipB, 10, 100)
	waitFor(t, "all 220 delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 220 })
	after, _, hs := classTx(p.a, vipB)
	if after[was] != bulk[was] || after[other] != 100 {
		t.Errorf("after %s failed: bulk per path %v (before %v): want the 100 new on %s", was, after, bulk, other)
	}
	if !strings.HasPrefix(hs.BulkPath, other) {
		// status may catch the moment the timer chooses again: wait for it
		waitFor(t, "status naming "+other+" as the bulk path", 2*time.Second, func() bool {
			_, _, hs := classTx(p.a, vipB)
			return strings.HasPrefix(hs.BulkPath, other)
		})
	}
}

func TestMeteredKeepsBulkOffBothWays(t *testing.T) {
	// Paths outlive 300 ms stalls (a lapsed eth1 would leave bulk without
	// a path and the packets undelivered), and the grace outlasts the dead
	// interval, so "eth1 down and no bulk path" holds for a while after
	// the cut before bulk takes eth0.
	grace := time.Second
	p := newPolicyPairLinks(t, Policy{Metered: []string{"eth0*"}, MeteredGrace: grace}, Policy{MeteredGrace: grace}, false, 300*time.Millisecond)
	waitFor(t, "B told that A's eth0 is metered", 2*time.Second, func() bool {
		for _, c := range p.b.Status().Hosts[0].Connections {
			if c.Local == "eth0" && c.State == 2 {
				return c.RemoteMetered
			}
		}
		return false
	})
	sendBoth(t, p.a, vipB, 0, 100)
	sendBoth(t, p.b, vipA, 0, 100)
	waitFor(t, "all delivered both ways", 2*time.Second, func() bool {
		u, _ := p.sinkB.counts()
		v, _ := p.sinkA.counts()
		return u == 200 && v == 200
	})
	for name, e := range map[string]*Engine{"A": p.a, "B": p.b} {
		peer := map[string]netip.Addr{"A": vipB, "B": vipA}[name]
		bulk, rt, _ := classTx(e, peer)
		if bulk["eth0"] != 0 || bulk["eth1"] != 100 || rt["eth0"] != 100 {
			t.Errorf("%s: bulk per path %v, real-time %v: want bulk only on the unmetered eth1, real-time on both", name, bulk, rt)
		}
	}
	// The unmetered path fails: bulk waits the grace, then takes the
	// metered one rather than stop for good.
	p.net.SetDown("s1", true)
	waitFor(t, "eth1 down and no bulk path", 2*time.Second, func() bool {
		_, _, hs := classTx(p.a, vipB)
		return upConns(p.a, vipB) == 1 && hs.BulkPath == ""
	})
	sendBoth(t, p.a, vipB, 100, 5)
	if _, _, hs := classTx(p.a, vipB); hs.BulkNoPath != 5 || hs.BulkPath != "" {
		t.Errorf("within the grace: %d bulk packets without a path (want 5), bulk path %q (want none)", hs.BulkNoPath, hs.BulkPath)
	}
	time.Sleep(grace)
	n := uint32(105)
	waitFor(t, "bulk on the metered eth0 once the grace is over", 2*time.Second, func() bool {
		sendBoth(t, p.a, vipB, n, 1)
		n++
		bulk, _, _ := classTx(p.a, vipB)
		return bulk["eth0"] > 0
	})
	if bulk, _, hs := classTx(p.a, vipB); bulk["eth1"] != 100 || hs.BulkNoPath < 5 {
		t.Errorf("after the cut: bulk per path %v (want eth1 still at 100), %d without a path (want ≥ 5)", bulk, hs.BulkNoPath)
	}
}

func TestSecondCopyWhileAPathIsDown(t *testing.T) {
	p := newPolicyPairLinks(t, Policy{SecondCopy: 5 * time.Millisecond, SecondCopyLossless: true}, Policy{}, false, time.Second)
	waitFor(t, "both paths up", 2*time.Second, func() bool { _, _, hs := classTx(p.a, vipB); return hs.PeakUpPaths == 2 })
	p.net.SetDown("s0", true)
	waitFor(t, "second copies on", 2*time.Second, func() bool {
		_, _, hs := classTx(p.a, vipB)
		return hs.UpPaths == 1 && hs.PeakUpPaths == 2 && hs.SecondCopy
	})
	next, sent := uint32(0), 0 // next sequence number; packets sent
	secondCopyRound(t, p, 200, func() {
		for range 200 {
			if err := p.a.Send(vipB, ipv4Packet(next)); err != nil {
				t.Fatal(err)
			}
			next++
			sent++
		}
	})
	// Bulk gets no second copy: 10 real-time and 10 bulk packets earn 10.
	secondCopyRound(t, p, 10, func() { sendBoth(t, p.a, vipB, 1000+next, 10); next += 10; sent += 20 })
	waitFor(t, "every packet delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == sent })
	if u, dups := p.sinkB.counts(); dups != 0 {
		t.Errorf("application got %d unique, %d duplicates; want no duplicates", u, dups)
	}
	p.net.SetDown("s0", false)
	waitFor(t, "second copies off once both paths are back", 2*time.Second, func() bool {
		_, _, hs := classTx(p.a, vipB)
		return hs.UpPaths == 2 && !hs.SecondCopy
	})
}

// secondCopyRound runs send, which sends want real-time packets among
// others, and checks that they earn exactly want second copies, each
// dropped at B as a duplicate. The surviving path's RTT jumping on a
// loaded machine looks like a queue, and a queueing path holds second
// copies by design (for a second or more): a round such a hold touched
// proves nothing, and is run again (up to 10 times).
func secondCopyRound(t *testing.T, p *pair, want uint64, send func()) {
	t.Helper()
	held := func() bool { _, _, hs := classTx(p.a, vipB); return hs.SecondCopyHeld != "" }
	for try := 1; ; try++ {
		waitFor(t, "second copies not held", 5*time.Second, func() bool { return !held() })
		copies0, dups0 := p.a.Status().Counters.SecondCopies, p.b.Status().Counters.DuplicatesDropped
		send()
		wasHeld := false
		waitFor(t, fmt.Sprintf("%d second copies sent (or a hold)", want), 2*time.Second, func() bool {
			wasHeld = wasHeld || held()
			return wasHeld || p.a.Status().Counters.SecondCopies-copies0 >= want
		})
		if wasHeld {
			if try == 10 {
				t.Fatalf("second copies held (surviving path queueing) in each of %d rounds", try)
			}
			t.Logf("round %d: the surviving path looked queueing (a loaded machine); again", try)
			continue
		}
		waitFor(t, "B dropped them as duplicates", 2*time.Second, func() bool {
			return p.b.Status().Counters.DuplicatesDropped-dups0 >= want
		})
		if got := p.a.Status().Counters.SecondCopies - copies0; got != want {
			t.Fatalf("%d second copies, want %d (one per real-time packet, none for bulk)", got, want)
		}
		return
	}
}

func TestCopyAllIsTheSeedsBehaviour(t *testing.T) {
	p := newPolicyPair(t, Policy{CopyAll: true}, Policy{})
	sendBoth(t, p.a, vipB, 0, 100)
	waitFor(t, "all delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 200 })
	bulk, rt, _ := classTx(p.a, vipB)
	if bulk["eth0"] != 100 || bulk["eth1"] != 100 || rt["eth0"] != 100 || rt["eth1"] != 100 {
		t.Errorf("copy-all: bulk %v real-time %v: want every packet on both paths", bulk, rt)
	}
	p.net.SetDown("s0", true)
	waitFor(t, "one path left", 2*time.Second, func() bool { return upConns(p.a, vipB) == 1 })
	sendBoth(t, p.a, vipB, 100, 50)
	time.Sleep(100 * time.Millisecond)
	if n := p.a.Status().Counters.SecondCopies; n != 0 {
		t.Errorf("copy-all sent %d second copies, want none (the seed sent none)", n)
	}
}

// NIC info on a path B never proved (here: A's eth1 address arriving on
// B's eth0, a path that does not exist) marks nothing.
func TestNICInfoOnUnprovenPathIgnored(t *testing.T) {
	p := newPolicyPair(t, Policy{}, Policy{})
	c := p.b.Status().Counters
	if c.NICInfo != 0 || c.NICInfoIgnored != 0 {
		t.Fatalf("unmetered NICs sent NIC info: taken %d, ignored %d", c.NICInfo, c.NICInfoIgnored)
	}
	pkt := make([]byte, wire.HeaderLen+wire.NICInfoLen)
	h := wire.Header{Kind: wire.KindNICInfo, Host: vipA, SrcIndex: 11, DstIndex: 20}
	if err := h.Encode(pkt); err != nil {
		t.Fatal(err)
	}
	(&wire.NICInfo{Flags: wire.NICMetered}).Encode(pkt[wire.HeaderLen:])
	bEth0 := p.net.links[ep(p.bAddrs[0])]
	for range 10 {
		if err := bEth0.Inject(pkt, p.aAddrs[1]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "B read the 10 forged packets", 2*time.Second, func() bool {
		return p.b.Status().Counters.NICInfoIgnored == 10
	})
	for _, cs := range p.b.Status().Hosts[0].Connections {
		if cs.RemoteMetered {
			t.Errorf("path %s → %s marked metered by a packet on an unproven path", cs.Local, cs.RemoteAddr)
		}
	}
}

func TestSendAllocatesNothing(t *testing.T) {
	p := newPolicyPairLinks(t, Policy{}, Policy{}, true, time.Second)
	// Cut the segments so the fake links' copies (test-side allocations)
	// do not count; the paths stay in state 2 for the dead interval.
	p.net.SetDown("s0", true)
	p.net.SetDown("s1", true)
	rt, bulk := ipv4Packet(1), tcpPacket(2)
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{{"real-time", rt}, {"bulk", bulk}} {
		if n := testing.AllocsPerRun(200, func() { _ = p.a.Send(vipB, tc.pkt) }); n != 0 {
			t.Errorf("Send of a %s packet: %v allocations, want 0", tc.name, n)
		}
	}
}

func TestSecondCopyDelayFromMeasurement(t *testing.T) {
	ms := int64(time.Millisecond)
	for i, c := range []struct {
		srtt, jitter int64
		want         time.Duration
	}{
		{40 * ms, 0, 20 * time.Millisecond},        // a quiet Wi-Fi: past a short loss burst
		{90 * ms, 2 * ms, 28 * time.Millisecond},   // LTE: 20 ms + 4 × jitter
		{90 * ms, 10 * ms, 40 * time.Millisecond},  // a jittery path: capped at 40 ms
		{150 * ms, 10 * ms, 25 * time.Millisecond}, // 75 ms one way: one-way + delay stays ≤ 100 ms
		{250 * ms, 0, 5 * time.Millisecond},        // a slow satellite-like path: the least delay
		{0, 0, 20 * time.Millisecond},              // no sample yet
	} {
		if got := secondCopyDelay(probeView{srtt: c.srtt, jitter: c.jitter}); got != c.want {
			t.Errorf("case %d: srtt %v jitter %v: delay %v, want %v", i, time.Duration(c.srtt), time.Duration(c.jitter), got, c.want)
		}
	}
}

// A metered NIC's byte budget: a warning at 80 % and one when reached,
// each once; status shows the bytes against the budget. Traffic goes on.
func TestMeteredBudgetWarnsOnce(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	p := &pair{net: NewFakeNetwork(), sinkA: newSink(), sinkB: newSink(), probeEvery: 20 * time.Millisecond}
	a, err := New(Config{VIP: vipA, Peers: raw(addr("198.18.0.3")), ProbeInterval: p.probeEvery,
		DeadInterval: time.Second, Logger: zap.New(core), Policy: Policy{Metered: []string{"wwan0"}, MeteredBudget: 100_000}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := New(Config{VIP: vipB, Peers: raw(addr("198.18.0.2")), ProbeInterval: p.probeEvery, Deliver: p.sinkB.deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a.AddLink(p.net.NewLink(10, "wwan0", addr("198.18.0.2"), "s0"))
	b.AddLink(p.net.NewLink(20, "eth0", addr("198.18.0.3"), "s0"))
	waitFor(t, "the path up", 2*time.Second, func() bool { return upConns(a, vipB) == 1 })
	warnings := func() []string {
		var out []string
		for _, e := range logs.FilterMessageSnippet("byte budget").All() {
			out = append(out, e.Message)
		}
		return out
	}
	send := func(n int) {
		for i := range n {
			if err := a.Send(vipB, ipv4Packet(uint32(i))); err != nil {
				t.Fatal(err)
			}
			if i%100 == 99 {
				time.Sleep(time.Millisecond)
			}
		}
	}
	send(300) // 300 × 216 B ≈ 65 kB: below 80 %
	time.Sleep(100 * time.Millisecond)
	if w := warnings(); len(w) != 0 {
		t.Fatalf("warned below 80 %%: %v", w)
	}
	send(150) // ≈ 97 kB: past 80 %
	waitFor(t, "the 80 % warning", 2*time.Second, func() bool { return len(warnings()) == 1 })
	send(300) // past the budget
	waitFor(t, "the budget warning", 2*time.Second, func() bool { return len(warnings()) == 2 })
	send(300)
	time.Sleep(100 * time.Millisecond)
	if w := warnings(); len(w) != 2 || !strings.Contains(w[0], "80 %") || !strings.Contains(w[1], "all of") {
		t.Errorf("warnings: %q, want one at 80 %% and one when reached", w)
	}
	st := a.Status()
	if len(st.Local) != 1 || !st.Local[0].Metered || st.Local[0].BudgetBytes != 100_000 || st.Local[0].TxBytes < 100_000 {
		t.Errorf("status of the metered NIC: %+v", st.Local)
	}
	waitFor(t, "traffic on past the budget", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u >= 300 })
}
