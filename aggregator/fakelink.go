package aggregator

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// FakeNetwork is an in-memory underlay for tests: FakeLinks on the same
// segment reach each other by address, like NICs on one LAN. A segment can
// be cut. Packets are copied on write, so callers may reuse their buffers.
type FakeNetwork struct {
	mu    sync.Mutex
	links map[netip.Addr]*FakeLink // guarded by mu
	down  map[string]bool          // guarded by mu: cut segments
}

// NewFakeNetwork returns an empty in-memory underlay.
func NewFakeNetwork() *FakeNetwork {
	return &FakeNetwork{links: map[netip.Addr]*FakeLink{}, down: map[string]bool{}}
}

// fakeInboxLen bounds each fake link's receive queue; a full one drops.
const fakeInboxLen = 4096

// NewLink attaches a link with the given index, name and address to segment.
func (n *FakeNetwork) NewLink(index int, name string, addr netip.Addr, segment string) *FakeLink {
	l := &FakeLink{net: n, index: index, name: name, addr: addr, segment: segment,
		inbox: make(chan fakePacket, fakeInboxLen), closed: make(chan struct{})}
	n.mu.Lock()
	n.links[addr] = l
	n.mu.Unlock()
	return l
}

// SetDown cuts (true) or restores (false) a segment: while cut, every packet
// written on it is lost.
func (n *FakeNetwork) SetDown(segment string, down bool) {
	n.mu.Lock()
	n.down[segment] = down
	n.mu.Unlock()
}

func (n *FakeNetwork) route(from *FakeLink, dst netip.Addr) *FakeLink {
	n.mu.Lock()
	defer n.mu.Unlock()
	to := n.links[dst]
	if to == nil || to.segment != from.segment || n.down[from.segment] {
		return nil
	}
	return to
}

type fakePacket struct {
	data []byte
	src  netip.Addr
}

// FakeLink is one in-memory NIC of a FakeNetwork; it implements Link.
type FakeLink struct {
	net     *FakeNetwork
	index   int
	name    string
	addr    netip.Addr
	segment string

	inbox     chan fakePacket
	closeOnce sync.Once
	closed    chan struct{}
	dropped   atomic.Int64

	stallMu sync.Mutex
	stalled chan struct{} // guarded by stallMu: non-nil while stalled; closed to resume

	// lose, if set (by tests in this package, before the link is used),
	// loses every packet it reports true for, as a lossy path would.
	lose func(pkt []byte) bool
}

// SetStalled makes the link behave like a socket whose send buffer is full
// (true) or drains again (false): while stalled, TryWriteTo reports that it
// would block and WriteTo blocks.
func (l *FakeLink) SetStalled(stalled bool) {
	l.stallMu.Lock()
	defer l.stallMu.Unlock()
	switch {
	case stalled && l.stalled == nil:
		l.stalled = make(chan struct{})
	case !stalled && l.stalled != nil:
		close(l.stalled)
		l.stalled = nil
	}
}

func (l *FakeLink) stall() chan struct{} {
	l.stallMu.Lock()
	defer l.stallMu.Unlock()
	return l.stalled
}

// Dropped counts packets lost because this link's inbox was full.
func (l *FakeLink) Dropped() int64 { return l.dropped.Load() }

// Index implements Link.
func (l *FakeLink) Index() int { return l.index }

// Name implements Link.
func (l *FakeLink) Name() string { return l.name }

// Addr implements Link.
func (l *FakeLink) Addr() netip.Addr { return l.addr }

// ReadFrom implements Link.
func (l *FakeLink) ReadFrom(buf []byte) ([]byte, netip.Addr, error) {
	select {
	case p := <-l.inbox:
		n := copy(buf, p.data)
		return buf[:n], p.src, nil
	case <-l.closed:
		return nil, netip.Addr{}, net.ErrClosed
	}
}

// WriteTo implements Link. An unreachable destination is silently lost, as
// on a real network. A stalled link blocks until it resumes or closes.
func (l *FakeLink) WriteTo(pkt []byte, dst netip.Addr) error {
	if s := l.stall(); s != nil {
		select {
		case <-s:
		case <-l.closed:
		}
	}
	return l.send(pkt, dst)
}

// TryWriteTo implements TryWriter, as linkmon's sockets do: it sends at
// once unless the link is stalled.
func (l *FakeLink) TryWriteTo(pkt []byte, dst netip.Addr) (sent bool, err error) {
	if l.stall() != nil {
		return false, nil
	}
	return true, l.send(pkt, dst)
}

// send copies pkt into the destination's inbox (full: lost, counted there).
func (l *FakeLink) send(pkt []byte, dst netip.Addr) error {
	select {
	case <-l.closed:
		return net.ErrClosed
	default:
	}
	to := l.net.route(l, dst)
	if to == nil || l.lose != nil && l.lose(pkt) {
		return nil
	}
	select {
	case to.inbox <- fakePacket{data: append([]byte(nil), pkt...), src: l.addr}:
	default:
		to.dropped.Add(1)
	}
	return nil
}

// Inject delivers raw bytes to this link as if src had sent them: tests use
// it to spray garbage.
func (l *FakeLink) Inject(pkt []byte, src netip.Addr) error {
	select {
	case l.inbox <- fakePacket{data: append([]byte(nil), pkt...), src: src}:
		return nil
	default:
		return errors.New("fake link inbox full")
	}
}

// Close detaches the link; its reader gets net.ErrClosed. Idempotent.
func (l *FakeLink) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.net.mu.Lock()
		if l.net.links[l.addr] == l {
			delete(l.net.links, l.addr)
		}
		l.net.mu.Unlock()
	})
	return nil
}
