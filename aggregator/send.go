package aggregator

import (
	"net/netip"
	"sync"

	"github.com/polylink/polylink/wire"
)

// bufSize holds a bundle header and the largest packet a TUN hands over
// with any MTU polylink sets (≤ 1500 less the outer header), with room to spare.
const bufSize = 2048

// packetBuf is a transmit buffer. A queued txItem owns its buffer: the
// writer returns it to the pool after the write. Duplication copies the
// packet into one buffer per connection, so no buffer has two owners.
type packetBuf [bufSize]byte

var bufPool = sync.Pool{New: func() any { return new(packetBuf) }}

type txItem struct {
	buf  *packetBuf
	n    int
	dst  netip.Addr
	conn *conn // nil for discovery probes
}

// Send sends one IPv4 packet to host vip: one ID for the packet, one copy
// on every connection in state 2 (all, while none is). It never blocks: a
// full link queue drops that copy and counts it.
func (e *Engine) Send(vip netip.Addr, pkt []byte) error {
	if len(pkt) > bufSize-wire.HeaderLen {
		e.stats.oversize.Add(1)
		return errOversize
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	h := e.hosts[vip]
	if h == nil {
		e.stats.noHost.Add(1)
		return ErrNoHost
	}
	id := uint16((h.nextID.Add(1) - 1) % wire.IDSpace)
	h.txData.Add(1)
	e.stats.txPackets.Add(1)
	anyUp := h.anyUp()
	for _, c := range h.conns {
		if anyUp && c.getState() != stateBoth {
			continue
		}
		e.enqueue(c.link, c, c.remote.addr, wire.Header{
			State: uint8(c.getState()), Forward: true, ID: id, Kind: wire.KindData,
			SrcIndex: uint32(c.link.index), DstIndex: c.remote.index,
		}, pkt)
		e.stats.txCopies.Add(1)
	}
	return nil
}

type sendError string

func (e sendError) Error() string { return string(e) }

const errOversize = sendError("packet larger than a bundle buffer")

// enqueue builds one bundle packet (header h, our Host filled in, then
// body) in a pooled buffer and queues it on ll. Callers hold e.mu for
// reading, so ll.queue is not closed under them.
func (e *Engine) enqueue(ll *localLink, c *conn, dst netip.Addr, h wire.Header, body []byte) {
	h.Host = e.cfg.VIP
	b := bufPool.Get().(*packetBuf)
	if err := h.Encode(b[:]); err != nil {
		bufPool.Put(b)
		return
	}
	n := wire.HeaderLen + copy(b[wire.HeaderLen:], body)
	select {
	case ll.queue <- txItem{buf: b, n: n, dst: dst, conn: c}:
	default:
		bufPool.Put(b)
		e.stats.queueDrops.Add(1)
		if c != nil {
			c.queueDrops.Add(1)
		}
	}
}

// writeLoop is the link's one writer: it drains the queue until the link is
// removed. A failed write (an unreachable destination, a NIC going away) is
// counted; it never stops the loop or other links.
func (e *Engine) writeLoop(ll *localLink) {
	defer e.wg.Done()
	for it := range ll.queue {
		err := ll.current().WriteTo(it.buf[:it.n], it.dst)
		if err != nil {
			e.stats.sendErrors.Add(1)
		}
		if it.conn != nil {
			if err != nil {
				it.conn.sendErrs.Add(1)
			} else {
				it.conn.txPackets.Add(1)
				it.conn.txBytes.Add(uint64(it.n))
			}
		}
		bufPool.Put(it.buf)
	}
}
