package aggregator

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// sink collects delivered packets by their 4-byte sequence number.
type sink struct {
	mu   sync.Mutex
	seen map[uint32]int
}

func newSink() *sink { return &sink{seen: map[uint32]int{}} }

func (s *sink) deliver(_ netip.Addr, pkt []byte) {
	if len(pkt) < 24 {
		return
	}
	s.mu.Lock()
	s.seen[binary.BigEndian.Uint32(pkt[20:24])]++
	s.mu.Unlock()
}

func (s *sink) counts() (unique, dups int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.seen {
		unique++
		dups += n - 1
	}
	return
}

// ipv4Packet builds a minimal well-formed IPv4 packet carrying seq.
func ipv4Packet(seq uint32) []byte {
	p := make([]byte, 200)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	p[8] = 64
	p[9] = 17
	copy(p[12:16], []byte{198, 19, 0, 2})
	copy(p[16:20], []byte{198, 19, 0, 3})
	binary.BigEndian.PutUint32(p[20:24], seq)
	return p
}

var (
	vipA = netip.MustParseAddr("198.19.0.2")
	vipB = netip.MustParseAddr("198.19.0.3")
)

type pair struct {
	net        *FakeNetwork
	a, b       *Engine
	sinkA      *sink
	sinkB      *sink
	aLinks     []*FakeLink
	bAddrs     []netip.Addr
	aAddrs     []netip.Addr
	probeEvery time.Duration
	tune       func(*Config) // optional: adjusts both engines' configs
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// raw turns addresses into raw IP-in-IP endpoints (port 0).
func raw(addrs ...netip.Addr) []netip.AddrPort {
	out := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		out[i] = netip.AddrPortFrom(a, 0)
	}
	return out
}

// ep is one raw IP-in-IP endpoint.
func ep(a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, 0) }

// newPair builds two engines joined by two fake segments, each configured
// with the other's addresses as peers.
func newPair(t *testing.T) *pair { t.Helper(); return newPairWith(t, nil) }

// newPairWith is newPair with tune applied to both engines' configs.
func newPairWith(t *testing.T, tune func(*Config)) *pair {
	t.Helper()
	p := &pair{net: NewFakeNetwork(), sinkA: newSink(), sinkB: newSink(), probeEvery: 20 * time.Millisecond, tune: tune,
		aAddrs: []netip.Addr{addr("198.18.0.2"), addr("198.18.1.2")},
		bAddrs: []netip.Addr{addr("198.18.0.3"), addr("198.18.1.3")}}
	p.a = p.newEngine(t, vipA, p.bAddrs, p.sinkA)
	p.b = p.newEngine(t, vipB, p.aAddrs, p.sinkB)
	for i, seg := range []string{"s0", "s1"} {
		la := p.net.NewLink(10+i, []string{"eth0", "eth1"}[i], p.aAddrs[i], seg)
		p.aLinks = append(p.aLinks, la)
		p.a.AddLink(la)
		p.b.AddLink(p.net.NewLink(20+i, []string{"eth0", "eth1"}[i], p.bAddrs[i], seg))
	}
	return p
}

func (p *pair) newEngine(t *testing.T, vip netip.Addr, peers []netip.Addr, s *sink) *Engine {
	cfg := Config{VIP: vip, Peers: raw(peers...), ProbeInterval: p.probeEvery, Deliver: s.deliver}
	if p.tune != nil {
		p.tune(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// waitFor polls cond until it holds or the deadline passes; on failure it
// shows the status of the engines given.
// waitSlack stretches every wait: d is ample on a quiet machine, and the
// race detector on a machine loaded by other builds has needed over 2 s.
// How long a wait takes is never what a test here asserts (timing targets
// are benchmarks), so a longer one only lets a slow machine finish.
const waitSlack = 5

// waitFor polls cond until it holds, failing the test after waitSlack × d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool, show ...*Engine) {
	t.Helper()
	d *= waitSlack
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			for _, e := range show {
				t.Logf("%s counters: %+v", e.cfg.VIP, e.Status().Counters)
			}
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// allCopiesIn reports whether every data copy from sent reached to, as
// delivered or dropped duplicate (to hears from no one else): the copies
// queued, less those a full queue dropped. Tests that use it keep paths
// from lapsing with a long dead interval (steady), so no copy goes to a
// path the fake network cannot route.
func allCopiesIn(from, to *Engine) bool {
	c, f := to.Status().Counters, from.Status().Counters
	return c.Delivered+c.DuplicatesDropped == f.TxCopies-f.QueueDrops
}

// steady keeps paths up through a loaded machine's stalls: tests about
// duplicates need every path to carry every packet.
func steady(c *Config) { c.DeadInterval = time.Second }

// upConns counts e's connections to host in state 2.
func upConns(e *Engine, vip netip.Addr) int {
	n := 0
	for _, h := range e.Status().Hosts {
		if h.VIP != vip.String() {
			continue
		}
		for _, c := range h.Connections {
			if c.State == 2 {
				n++
			}
		}
	}
	return n
}

func TestHandshakeBringsBothPathsUp(t *testing.T) {
	p := newPair(t)
	waitFor(t, "A's two paths to B up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	waitFor(t, "B's two paths to A up", 2*time.Second, func() bool { return upConns(p.b, vipA) == 2 })
	st := p.a.Status()
	if len(st.Hosts) != 1 || len(st.Hosts[0].Connections) != 4 {
		t.Fatalf("want 1 host with 2×2 connections, got %+v", st.Hosts)
	}
	for _, c := range st.Hosts[0].Connections {
		wantUp := c.LocalIndex-10 == int(c.RemoteIndex)-20 // same segment
		if (c.State == 2) != wantUp {
			t.Errorf("connection %s→%s state %d, want up=%v", c.Local, c.RemoteAddr, c.State, wantUp)
		}
	}
	if !st.Hosts[0].Gateway {
		t.Error("host met through a configured peer should be the gateway")
	}
	if gw, ok := p.a.Gateway(); !ok || gw != vipB {
		t.Errorf("Gateway() = %v %v, want %v", gw, ok, vipB)
	}
}

func TestEveryPacketOnceDespiteDuplication(t *testing.T) {
	p := newPairWith(t, steady)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	const n = 2000
	for i := range uint32(n) {
		if err := p.a.Send(vipB, ipv4Packet(i)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(time.Millisecond) // stay under the fake inboxes' bound
		}
	}
	waitFor(t, "all packets delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == n })
	waitFor(t, "every copy in", 2*time.Second, func() bool { return allCopiesIn(p.a, p.b) }, p.a, p.b)
	if d := p.b.Status().Counters.DuplicatesDropped; d == 0 {
		t.Fatal("no duplicate dropped: nothing was duplicated")
	}
	if _, dups := p.sinkB.counts(); dups != 0 {
		t.Fatalf("application saw %d duplicates, want 0", dups)
	}
	c := p.b.Status().Counters
	if c.Delivered != n {
		t.Fatalf("delivered %d, want %d", c.Delivered, n)
	}
	var wins uint64
	for _, cs := range p.b.Status().Hosts[0].Connections {
		wins += cs.FirstWins
	}
	if wins != n {
		t.Fatalf("first wins add up to %d, want %d", wins, n)
	}
}

func TestCutPathLosesNothingAndFallsToZero(t *testing.T) {
	p := newPair(t)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	p.net.SetDown("s0", true)
	for i := range uint32(500) {
		if err := p.a.Send(vipB, ipv4Packet(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all 500 delivered over the surviving path", 2*time.Second, func() bool {
		u, _ := p.sinkB.counts()
		return u == 500
	})
	waitFor(t, "cut path in state 0", 2*time.Second, func() bool { return upConns(p.a, vipB) == 1 })
	p.net.SetDown("s0", false)
	waitFor(t, "cut path back up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
}

func TestGarbageIsCountedAndHarmless(t *testing.T) {
	p := newPair(t)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 })
	var good [wire.HeaderLen]byte
	h := wire.Header{Kind: wire.KindProbe, Host: vipB, SrcIndex: 20}
	if err := h.Encode(good[:]); err != nil {
		t.Fatal(err)
	}
	bad := [][]byte{
		{},
		{1, 2, 3},
		append([]byte{0, 0, 0xAA, 0x11}, make([]byte, 40)...), // wrong magic
		good[:],                           // probe without a body
		append(good[:4:4], 1, 2, 3, 4, 5), // truncated header
	}
	for i := range 100 {
		if err := p.aLinks[0].Inject(bad[i%len(bad)], p.bAddrs[0]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "garbage counted", 2*time.Second, func() bool { return p.a.Status().Counters.MalformedDropped == 100 })
	for i := range uint32(100) {
		if err := p.b.Send(vipA, ipv4Packet(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "stream still delivered", 2*time.Second, func() bool { u, _ := p.sinkA.counts(); return u == 100 })
}

func TestRestartedPeerIsNotTakenForDuplicates(t *testing.T) {
	p := newPairWith(t, steady)
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.b, vipA) == 2 })
	setNextID(p.a, vipB, 0)
	for i := range uint32(300) {
		p.a.Send(vipB, ipv4Packet(i))
	}
	waitFor(t, "first run delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 300 })
	// A real restart takes longer than the path skew: no copy of the old
	// run is still in flight when the new one starts.
	waitFor(t, "first run's second copies in", 2*time.Second, func() bool { return allCopiesIn(p.a, p.b) })

	// Restart A: same addresses, new engine, new epoch, fresh ID counter.
	p.a.Close()
	sinkA2 := newSink()
	a2 := p.newEngine(t, vipA, p.bAddrs, sinkA2)
	for i, seg := range []string{"s0", "s1"} {
		a2.AddLink(p.net.NewLink(10+i, []string{"eth0", "eth1"}[i], p.aAddrs[i], seg))
	}
	waitFor(t, "restarted A's paths up", 2*time.Second, func() bool { return upConns(a2, vipB) == 2 })
	// The new run reuses exactly the IDs the old run used < 500 ms ago.
	setNextID(a2, vipB, 0)
	before := p.b.Status().Counters.Delivered
	for i := range uint32(300) {
		a2.Send(vipB, ipv4Packet(1000+i))
	}
	deadline := time.Now().Add(2 * time.Second)
	for p.b.Status().Counters.Delivered-before != 300 {
		if time.Now().After(deadline) {
			st := p.b.Status()
			t.Logf("A2 epoch %d counters %+v", a2.Status().Epoch, a2.Status().Counters)
			t.Fatalf("second run: %d of 300 delivered; B's counters %+v; hosts %+v", st.Counters.Delivered-before, st.Counters, st.Hosts)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func setNextID(e *Engine, vip netip.Addr, id uint32) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	e.hosts[vip].nextID.Store(id)
}
