package aggregator

import (
	"time"

	"github.com/polylink/polylink/classify"
	"github.com/polylink/polylink/wire"
)

// sendCopy sends one copy of data packet pkt (ID id, class cl, outer TOS
// tos) on c. Called with e.mu read-locked.
func (e *Engine) sendCopy(c *conn, st connState, id uint16, cl classify.Class, pkt []byte, tos uint8) {
	if e.keyed != nil {
		e.sendRaw(c.link, c, c.remote.addr, pkt, tos) // sealed once by Send: the same bytes on every path
	} else {
		e.enqueue(c.link, c, c.remote.addr, wire.Header{
			State: uint8(st), Forward: true, ID: id, Kind: wire.KindData,
			SrcIndex: uint32(c.link.index), DstIndex: c.remote.index,
		}, pkt, tos)
	}
	e.stats.txCopies.Add(1)
	c.pol.tx[cl].packets.Add(1)
	c.pol.tx[cl].bytes.Add(uint64(len(pkt)))
}

// sendEverywhere copies pkt onto every working connection (while none is,
// onto every connection to a NIC that ever answered us) and, for real-time
// packets while the host has lost paths, queues the second copy. It
// returns paths with the links it used appended. Called with e.mu
// read-locked.
func (e *Engine) sendEverywhere(h *host, id uint16, cl classify.Class, pkt []byte, tos uint8, now int64, paths []int32) []int32 {
	anyUp := h.anyUp(now, e.dead)
	established := h.established.Load()
	for _, c := range h.conns {
		st := c.state(now, e.dead)
		if anyUp && (st != stateBoth || h.standby(c, now, e.dead)) {
			continue // down, or a UDP path whose raw twin carries (twins.go)
		}
		if !anyUp && established && !c.remote.proven.Load() {
			continue // with every path down, still only to NICs that ever answered us
		}
		e.sendCopy(c, st, id, cl, pkt, tos)
		if !anyUp {
			e.stats.txCopiesBlind.Add(1)
		}
		if len(paths) < cap(paths) {
			paths = append(paths, int32(c.link.index))
		}
	}
	if cl == classify.RealTime && !e.cfg.Policy.CopyAll {
		if d := h.pol.secondDelay.Load(); d > 0 {
			e.queueSecondCopy(h, id, pkt, tos, now+d)
		}
	}
	return paths
}

// sendBulk sends pkt on the host's bulk path, choosing another at once if
// that one stopped working. Called with e.mu read-locked.
func (e *Engine) sendBulk(h *host, id uint16, pkt []byte, tos uint8, now int64, paths []int32) []int32 {
	c := h.pol.bulk.Load()
	if c == nil || !e.bulkCarries(c, now) {
		c = e.chooseBulk(h, now, nil)
		h.pol.bulk.Store(c)
	}
	if c == nil {
		h.pol.bulkNoPath.Add(1)
		e.stats.pol.bulkNoPath.Add(1)
		return paths
	}
	e.sendCopy(c, stateBoth, id, classify.Bulk, pkt, tos)
	return append(paths, int32(c.link.index))
}

// cost ranks working paths for bulk and second copies: the path's base
// RTT (its lowest lately: the queue our own bulk builds on the best path
// must not push bulk onto a slower one), inflated by probe loss, plus 1 ms
// so that no path is free. Lower is better. Loss weighs little: most of
// what a bulk path loses is the tail of the queue that bulk itself fills
// (measured: an upload through a 10 Mbit/s link made its probes see 10 to
// 15 % loss), which would otherwise push bulk onto a slower path.
func (c *conn) cost(v probeView) float64 {
	rtt := c.pol.baseRTT.Load()
	if rtt == 0 {
		rtt = v.srtt
	}
	if rtt == 0 {
		return 1e9 // no RTT sample yet: last resort
	}
	return (float64(rtt)/1e6)*(1+3*v.loss) + 1
}

// bulkCarries reports whether c may carry bulk: it answered a probe within
// three dead intervals and received anything within one. The bulk's own
// queue on the path it takes drops probes in bursts (a full bottleneck
// tail-drops), which alone must not send bulk to another path; a path that
// is really gone stops receiving, and loses bulk after the dead interval.
func (e *Engine) bulkCarries(c *conn, now int64) bool {
	return !c.link.removed.Load() && within(c.provenAt.Load(), now, 3*e.dead) && within(c.lastRx.Load(), now, e.dead)
}

// bulkHysteresis: a path carrying bulk keeps it until another costs less
// than this share of it; moving a TCP flow reorders its segments.
const bulkHysteresis = 0.7

// chooseBulk picks the path bulk takes: the cheapest working unmetered
// path; a metered one only when no unmetered path has worked for
// MeteredGrace. cur (if still eligible) is kept unless another is clearly
// better. nil: none may carry bulk now. Called with e.mu read-locked.
func (e *Engine) chooseBulk(h *host, now int64, cur *conn) *conn {
	var best *conn
	var bestCost, curCost float64
	bestMetered, curOK := true, false
	maturity := int64(e.cfg.DeadInterval)
	for _, c := range h.conns {
		if !e.bulkCarries(c, now) {
			continue
		}
		m := c.metered(now)
		cost := c.cost(c.probes.view(now, maturity))
		if c == cur {
			curOK, curCost = true, cost
		}
		if best == nil || (bestMetered && !m) || (m == bestMetered && cost < bestCost) {
			best, bestCost, bestMetered = c, cost, m
		}
	}
	if best == nil {
		return nil
	}
	if bestMetered {
		last := h.pol.unmeteredAt.Load()
		if last == 0 || now-last < int64(e.cfg.Policy.MeteredGrace) {
			return nil
		}
	}
	if curOK && cur.metered(now) == bestMetered && bestCost > bulkHysteresis*curCost {
		return cur
	}
	return best
}

// secondCopyDelay chooses how long after the first copy the second one
// leaves, from the surviving path's measurements. It must outlast the
// typical loss burst (a Wi-Fi retry storm, a radio scheduling gap: a few
// to 20 ms), so the two copies do not die together, yet land well inside a
// 150 ms media deadline: 20 ms plus four times the path's jitter, at most
// 40 ms, and never so late that one-way delay plus it passes 100 ms.
func secondCopyDelay(v probeView) time.Duration {
	d := 20*time.Millisecond + 4*time.Duration(v.jitter)
	d = min(d, 40*time.Millisecond)
	if budget := 100*time.Millisecond - time.Duration(v.srtt)/2; d > budget {
		d = max(budget, 5*time.Millisecond)
	}
	return d
}

// delayed is a second copy waiting for its time; it owns its buffer.
type delayed struct {
	due int64
	c   *conn
	b   *packetBuf
	n   int
	tos uint8
}

// queueSecondCopy builds the second copy of data packet id (same ID: the
// far end's duplicate filter drops whichever copy comes second) and queues
// it for the host's best path at due. Called with e.mu read-locked.
func (e *Engine) queueSecondCopy(h *host, id uint16, pkt []byte, tos uint8, due int64) {
	c := h.pol.best.Load()
	if c == nil {
		return
	}
	var (
		b  *packetBuf
		n  int
		ok = true
	)
	if e.keyed != nil { // the sealed message itself: the far end's replay window drops the later copy
		b = bufPool.Get().(*packetBuf)
		n = copy(b[:], pkt)
	} else {
		b, n, ok = e.build(wire.Header{State: uint8(stateBoth), Forward: true, ID: id, Kind: wire.KindData,
			SrcIndex: uint32(c.link.index), DstIndex: c.remote.index}, pkt)
	}
	if !ok {
		return
	}
	select {
	case e.second <- delayed{due: due, c: c, b: b, n: n, tos: tos}:
	default:
		bufPool.Put(b)
		e.stats.pol.secondDropped.Add(1)
	}
}

// secondCopyLoop sends second copies when they are due. Every copy waits
// the same delay, so the queue is in order of due time.
func (e *Engine) secondCopyLoop() {
	defer e.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		var it delayed
		select {
		case <-e.done:
			return
		case it = <-e.second:
		}
		if wait := it.due - e.now(); wait > 0 {
			t.Reset(time.Duration(wait))
			select {
			case <-e.done:
				bufPool.Put(it.b)
				return
			case <-t.C:
			}
		}
		e.sendSecond(it)
	}
}

// sendSecond sends a due second copy if its path still works.
func (e *Engine) sendSecond(it delayed) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c := it.c
	if e.closed || c.link.removed.Load() || !c.proven(e.now(), e.dead) {
		bufPool.Put(it.b)
		e.stats.pol.secondDropped.Add(1)
		return
	}
	e.enqueueBuf(c.link, c, c.remote.addr, it.b, it.n, it.tos)
	c.pol.secondCopies.Add(1)
	c.pol.tx[classify.RealTime].packets.Add(1)
	c.pol.tx[classify.RealTime].bytes.Add(uint64(it.n - wire.HeaderLen))
	c.host.pol.secondCopies.Add(1)
	e.stats.pol.secondCopies.Add(1)
}
