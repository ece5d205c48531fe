package aggregator

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// nullLink is a Link that sends at once into a fixed buffer (keeping the
// last packet) and receives nothing: tests drive Engine.handle themselves,
// synchronously, and measure allocations without a fake network's copies.
type nullLink struct {
	index  int
	addr   netip.Addr
	closed chan struct{}
	once   sync.Once
	sent   atomic.Int64

	mu      sync.Mutex
	last    [bufSize]byte // guarded by mu
	lastN   int           // guarded by mu
	lastDst netip.Addr    // guarded by mu
}

func newNullLink(index int, a netip.Addr) *nullLink {
	return &nullLink{index: index, addr: a, closed: make(chan struct{})}
}

func (l *nullLink) Index() int            { return l.index }
func (l *nullLink) Name() string          { return "null" }
func (l *nullLink) Local() netip.AddrPort { return ep(l.addr) }

func (l *nullLink) ReadFrom([]byte) ([]byte, netip.AddrPort, error) {
	<-l.closed
	return nil, netip.AddrPort{}, net.ErrClosed
}

func (l *nullLink) WriteTo(pkt []byte, dst netip.AddrPort, tos uint8) error {
	_, err := l.TryWriteTo(pkt, dst, tos)
	return err
}

func (l *nullLink) TryWriteTo(pkt []byte, dst netip.AddrPort, _ uint8) (bool, error) {
	l.mu.Lock()
	l.lastN, l.lastDst = copy(l.last[:], pkt), dst.Addr()
	l.mu.Unlock()
	l.sent.Add(1)
	return true, nil
}

func (l *nullLink) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// lastPacket decodes the last packet sent.
func (l *nullLink) lastPacket(t testing.TB) (wire.Header, []byte, netip.Addr) {
	t.Helper()
	l.mu.Lock()
	pkt := append([]byte(nil), l.last[:l.lastN]...)
	dst := l.lastDst
	l.mu.Unlock()
	var h wire.Header
	body, err := wire.Decode(pkt, &h)
	if err != nil {
		t.Fatalf("the engine sent a malformed packet: %v", err)
	}
	return h, body, dst
}

// driven is an engine whose timer never fires (a probe interval of an
// hour): the test feeds packets to handle and calls the timer's hooks with
// the times it chooses.
type driven struct {
	e    *Engine
	ll   *localLink
	link *nullLink
}

const drivenEpoch = 0xB0B // the remote hosts' epoch in driven tests

func newDriven(t testing.TB, cfg Config) *driven {
	t.Helper()
	cfg.VIP = vipA
	cfg.ProbeInterval = time.Hour
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	l := newNullLink(10, addr("198.18.0.2"))
	e.AddLink(l)
	return &driven{e: e, ll: e.links[linkKey{10, KindIPIP}], link: l}
}

// in hands the engine one packet from src, as the link's reader would.
func (d *driven) in(src netip.Addr, pkt []byte) { d.e.handle(d.ll, ep(src), pkt, 0) }

// probeFrom is a probe from host vip's NIC (index, at src).
func probeFrom(t testing.TB, vip netip.Addr, index uint32, seq uint32) []byte {
	return forged(t, wire.Header{Kind: wire.KindProbe, Host: vip, SrcIndex: index, DstIndex: 10},
		wire.Probe{SendTime: 5, Seq: seq, Epoch: drivenEpoch})
}

// dataFrom is a data packet from host vip's NIC index with the given ID.
func dataFrom(t testing.TB, vip netip.Addr, index uint32, id uint16) []byte {
	t.Helper()
	h := wire.Header{Kind: wire.KindData, Forward: true, Host: vip, SrcIndex: index, DstIndex: 10, ID: id}
	return bundle(t, h, ipv4Packet(uint32(id)))
}

// bundle is header h followed by body.
func bundle(t testing.TB, h wire.Header, body []byte) []byte {
	t.Helper()
	b := make([]byte, wire.HeaderLen+len(body))
	if err := h.Encode(b); err != nil {
		t.Fatal(err)
	}
	copy(b[wire.HeaderLen:], body)
	return b
}

// prove makes host vip's NIC (index, src) proven: it probes, the engine
// answers with a reply-probe, and the NIC answers the engine's probe.
func (d *driven) prove(t testing.TB, vip netip.Addr, index uint32, src netip.Addr) *conn {
	t.Helper()
	d.in(src, probeFrom(t, vip, index, 1))
	h, body, dst := d.link.lastPacket(t)
	var r, q wire.Probe
	if h.Kind != wire.KindReplyProbe || dst != src || wire.DecodeReplyProbe(body, &r, &q) != nil {
		t.Fatalf("a probe from a new NIC got %v to %v, want a reply-probe to %v", h.Kind, dst, src)
	}
	if r.Seq != 1 || r.SendTime != 5 {
		t.Fatalf("reply echoes seq %d time %d, want 1 and 5", r.Seq, r.SendTime)
	}
	d.in(src, forged(t, wire.Header{Kind: wire.KindProbeReply, Host: vip, SrcIndex: index, DstIndex: 10},
		wire.Probe{SendTime: q.SendTime, Seq: q.Seq, Epoch: drivenEpoch}))
	c := d.conn(vip, index, src)
	if c == nil || !c.proven(d.e.now(), d.e.dead) || !c.host.established.Load() {
		t.Fatal("answering the engine's probe did not prove the path")
	}
	return c
}

// conn returns the connection to host vip's NIC (index, src), or nil.
func (d *driven) conn(vip netip.Addr, index uint32, src netip.Addr) *conn {
	d.e.mu.RLock()
	defer d.e.mu.RUnlock()
	h := d.e.hosts[vip]
	if h == nil {
		return nil
	}
	r := h.remotes[remoteKey{index, ep(src)}]
	if r == nil {
		return nil
	}
	return h.connFor(d.ll, r)
}
