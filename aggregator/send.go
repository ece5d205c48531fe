package aggregator

import (
	"net/netip"
	"sync"

	"github.com/polylink/polylink/classify"
	"github.com/polylink/polylink/wire"
)

// bufSize holds a bundle header and the largest packet polylink carries.
const bufSize = 2048

// MaxPacket is the largest inner packet the engine carries: the TUN's MTU
// may not exceed it.
const MaxPacket = bufSize - wire.HeaderLen

// packetBuf is a transmit buffer. A queued txItem owns its buffer: the
// writer returns it to the pool after the write. Duplication copies the
// packet into one buffer per connection, so no buffer has two owners.
type packetBuf [bufSize + wire.TagLen]byte // keyed mode appends a tag

var bufPool = sync.Pool{New: func() any { return new(packetBuf) }}

type txItem struct {
	buf  *packetBuf
	n    int
	dst  netip.AddrPort
	conn *conn // nil for discovery probes
	tos  uint8 // the outer header's DSCP (Link.WriteTo)
}

// innerTOS is the outer TOS byte for a copy of inner packet pkt: its TOS,
// DSCP and ECN (RFC 6040's normal mode: a congested path may then mark an
// ECN-capable copy instead of dropping it, and the receiver carries the
// mark into the inner header: decapECN), 0 for anything but IPv4.
func innerTOS(pkt []byte) uint8 {
	if len(pkt) < 2 || pkt[0]>>4 != 4 {
		return 0
	}
	return pkt[1]
}

// Send sends one IPv4 packet to host vip with the next ID of its bundle.
// A real-time packet (or any, with Policy.CopyAll) goes as one copy on
// every connection in state 2 (while none is, on every connection to a NIC
// that ever answered our probes, or to any NIC before the first did); a
// bulk packet on the host's one bulk path (policy_send.go). It never
// blocks: a full link queue drops that copy and counts it.
func (e *Engine) Send(vip netip.Addr, pkt []byte) error {
	if len(pkt) > MaxPacket {
		e.stats.oversize.Add(1)
		return errOversize
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	h := e.hosts[vip]
	if h == nil || e.closed || e.keyed != nil && h.kp == nil {
		e.stats.noHost.Add(1)
		return ErrNoHost
	}
	cl, p, parsed := e.cfg.Policy.Classifier.Classify(pkt)
	tos := innerTOS(pkt) // before sealing hides it
	// out is what every copy carries: pkt behind a v1 header per copy, or
	// in keyed mode the message sealed once here (keyed.go).
	out := pkt
	if e.keyed != nil {
		b, msg, err := e.sealData(h, pkt)
		if err != nil {
			return err
		}
		defer bufPool.Put(b)
		out = msg
	}
	id := uint16((h.nextID.Add(1) - 1) % wire.IDSpace)
	h.txData.Add(1)
	e.stats.txPackets.Add(1)
	now := e.now()
	e.stats.pol.tx[cl].Add(1)
	var pathBuf [classify.MaxFlowPaths]int32
	paths := pathBuf[:0]
	if cl == classify.Bulk && !e.cfg.Policy.CopyAll {
		paths = e.sendBulk(h, id, out, tos, now, paths)
	} else {
		paths = e.sendEverywhere(h, id, cl, out, tos, now, paths)
	}
	if parsed {
		e.flows.Record(p.Flow, cl, len(pkt), now, paths)
	}
	return nil
}

type sendError string

// Error implements error.
func (e sendError) Error() string { return string(e) }

const errOversize = sendError("packet larger than a bundle buffer")

// enqueue builds one bundle packet (header h, our Host filled in, then
// body) in a pooled buffer and sends or queues it on ll with outer TOS tos.
// A link removed meanwhile takes nothing.
func (e *Engine) enqueue(ll *localLink, c *conn, dst netip.AddrPort, h wire.Header, body []byte, tos uint8) {
	if ll.removed.Load() || e.keyed != nil { // a keyed node never sends keyless (v1) packets
		return
	}
	if b, n, ok := e.build(h, body); ok {
		e.enqueueBuf(ll, c, dst, b, n, tos)
	}
}

// build writes header h (our Host filled in) and body into a pooled buffer.
func (e *Engine) build(h wire.Header, body []byte) (*packetBuf, int, bool) {
	h.Host = e.cfg.VIP
	b := bufPool.Get().(*packetBuf)
	if err := h.Encode(b[:]); err != nil {
		bufPool.Put(b)
		return nil, 0, false
	}
	return b, wire.HeaderLen + copy(b[wire.HeaderLen:bufSize], body), true
}

// enqueueBuf sends or queues the bundle packet b[:n] on ll with outer TOS
// tos; it takes b.
func (e *Engine) enqueueBuf(ll *localLink, c *conn, dst netip.AddrPort, b *packetBuf, n int, tos uint8) {
	if len(ll.queue) == 0 && e.tryDirect(ll, c, b, n, dst, tos) {
		return
	}
	select {
	case ll.queue <- txItem{buf: b, n: n, dst: dst, conn: c, tos: tos}:
	default:
		bufPool.Put(b)
		e.stats.queueDrops.Add(1)
		if c != nil {
			c.queueDrops.Add(1)
		}
	}
}

// tryDirect sends at once from the caller's goroutine when the link can
// without blocking; false means queue the packet instead. Sending only
// while the queue is empty keeps order, but for the writer's last packet,
// which it may still be writing.
func (e *Engine) tryDirect(ll *localLink, c *conn, b *packetBuf, n int, dst netip.AddrPort, tos uint8) bool {
	tw, ok := ll.current().(TryWriter)
	if !ok {
		return false
	}
	sent, err := tw.TryWriteTo(b[:n], dst, tos)
	if !sent && err == nil {
		return false
	}
	e.countWrite(c, n, err)
	bufPool.Put(b)
	return true
}

func (e *Engine) countWrite(c *conn, n int, err error) {
	if err != nil {
		e.stats.sendErrors.Add(1)
	}
	if c == nil {
		return
	}
	if err != nil {
		c.sendErrs.Add(1)
	} else {
		c.txPackets.Add(1)
		c.txBytes.Add(uint64(n))
		c.link.txBytes.Add(uint64(n))
	}
}

// writeLoop is the link's writer for what could not be sent at once: it
// drains the queue until the link is removed. A failed write (an unreachable destination, a NIC going away) is
// counted; it never stops the loop or other links.
func (e *Engine) writeLoop(ll *localLink) {
	defer e.wg.Done()
	for {
		select {
		case <-ll.done:
			return
		case it := <-ll.queue:
			err := ll.current().WriteTo(it.buf[:it.n], it.dst, it.tos)
			e.countWrite(it.conn, it.n, err)
			bufPool.Put(it.buf)
		}
	}
}
