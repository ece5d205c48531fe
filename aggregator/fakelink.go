package aggregator

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// FakeNetwork is an in-memory underlay for tests: FakeLinks on the same
// segment reach each other by endpoint (address, and port for UDP-like
// links), like NICs on one LAN. A segment can be cut, and a link can be put
// behind a fake NAT mapping (Remap). Packets are copied on write, so callers
// may reuse their buffers.
type FakeNetwork struct {
	mu    sync.Mutex
	links map[netip.AddrPort]*FakeLink // guarded by mu: by local endpoint and by NAT mapping
	down  map[string]bool              // guarded by mu: cut segments
}

// NewFakeNetwork returns an empty in-memory underlay.
func NewFakeNetwork() *FakeNetwork {
	return &FakeNetwork{links: map[netip.AddrPort]*FakeLink{}, down: map[string]bool{}}
}

// fakeInboxLen bounds each fake link's receive queue; a full one drops.
const fakeInboxLen = 4096

// NewLink attaches a raw-IP-in-IP-like link (no port) with the given index,
// name and address to segment.
func (n *FakeNetwork) NewLink(index int, name string, addr netip.Addr, segment string) *FakeLink {
	return n.NewEndpointLink(index, name, netip.AddrPortFrom(addr, 0), segment)
}

// NewEndpointLink attaches a link bound to local (a port makes it UDP-like)
// to segment.
func (n *FakeNetwork) NewEndpointLink(index int, name string, local netip.AddrPort, segment string) *FakeLink {
	l := &FakeLink{net: n, index: index, name: name, addr: local, segment: segment,
		inbox: make(chan fakePacket, fakeInboxLen), closed: make(chan struct{})}
	l.mapped.Store(&local)
	n.mu.Lock()
	n.links[local] = l
	n.mu.Unlock()
	return l
}

// Remap puts l behind a NAT that maps it to ap from now on: its packets
// arrive from ap, and only packets sent to ap reach it, as when a NAT
// reboots or a carrier hands out a new public address.
func (l *FakeLink) Remap(ap netip.AddrPort) {
	l.net.mu.Lock()
	defer l.net.mu.Unlock()
	if old := *l.mapped.Load(); l.net.links[old] == l {
		delete(l.net.links, old)
	}
	l.mapped.Store(&ap)
	l.net.links[ap] = l
}

// SetDown cuts (true) or restores (false) a segment: while cut, every packet
// written on it is lost.
func (n *FakeNetwork) SetDown(segment string, down bool) {
	n.mu.Lock()
	n.down[segment] = down
	n.mu.Unlock()
}

func (n *FakeNetwork) route(from *FakeLink, dst netip.AddrPort) *FakeLink {
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
	src  netip.AddrPort
}

// FakeLink is one in-memory NIC of a FakeNetwork; it implements Link.
type FakeLink struct {
	net     *FakeNetwork
	index   int
	name    string
	addr    netip.AddrPort
	mapped  atomic.Pointer[netip.AddrPort] // the source its packets show (Remap)
	segment string

	inbox     chan fakePacket
	closeOnce sync.Once
	closed    chan struct{}
	dropped   atomic.Int64
	byTOS     [256]atomic.Uint64 // packets written, by the outer TOS they were given

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

// SentWithTOS counts the packets written on this link with outer TOS tos,
// whether or not they arrived: what a capture of the outer headers would
// see.
func (l *FakeLink) SentWithTOS(tos uint8) uint64 { return l.byTOS[tos].Load() }

// Dropped counts packets lost because this link's inbox was full.
func (l *FakeLink) Dropped() int64 { return l.dropped.Load() }

// Index implements Link.
func (l *FakeLink) Index() int { return l.index }

// Name implements Link.
func (l *FakeLink) Name() string { return l.name }

// Local implements Link.
func (l *FakeLink) Local() netip.AddrPort { return l.addr }

// ReadFrom implements Link.
func (l *FakeLink) ReadFrom(buf []byte) ([]byte, netip.AddrPort, error) {
	select {
	case p := <-l.inbox:
		n := copy(buf, p.data)
		return buf[:n], p.src, nil
	case <-l.closed:
		return nil, netip.AddrPort{}, net.ErrClosed
	}
}

// WriteTo implements Link. An unreachable destination is silently lost, as
// on a real network. A stalled link blocks until it resumes or closes.
func (l *FakeLink) WriteTo(pkt []byte, dst netip.AddrPort, tos uint8) error {
	if s := l.stall(); s != nil {
		select {
		case <-s:
		case <-l.closed:
		}
	}
	return l.send(pkt, dst, tos)
}

// TryWriteTo implements TryWriter, as linkmon's sockets do: it sends at
// once unless the link is stalled.
func (l *FakeLink) TryWriteTo(pkt []byte, dst netip.AddrPort, tos uint8) (sent bool, err error) {
	if l.stall() != nil {
		return false, nil
	}
	return true, l.send(pkt, dst, tos)
}

// send copies pkt into the destination's inbox (full: lost, counted there)
// and counts its outer DSCP.
func (l *FakeLink) send(pkt []byte, dst netip.AddrPort, tos uint8) error {
	select {
	case <-l.closed:
		return net.ErrClosed
	default:
	}
	l.byTOS[tos].Add(1)
	to := l.net.route(l, dst)
	if to == nil || l.lose != nil && l.lose(pkt) {
		return nil
	}
	select {
	case to.inbox <- fakePacket{data: append([]byte(nil), pkt...), src: *l.mapped.Load()}:
	default:
		to.dropped.Add(1)
	}
	return nil
}

// Inject delivers raw bytes to this link as if src (raw IP-in-IP) had sent
// them: tests use it to spray garbage.
func (l *FakeLink) Inject(pkt []byte, src netip.Addr) error {
	return l.InjectFrom(pkt, netip.AddrPortFrom(src, 0))
}

// InjectFrom is Inject from an endpoint.
func (l *FakeLink) InjectFrom(pkt []byte, src netip.AddrPort) error {
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
		for _, ap := range []netip.AddrPort{l.addr, *l.mapped.Load()} {
			if l.net.links[ap] == l {
				delete(l.net.links, ap)
			}
		}
		l.net.mu.Unlock()
	})
	return nil
}
