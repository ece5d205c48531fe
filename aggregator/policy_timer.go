package aggregator

import (
	"time"

	"github.com/polylink/polylink/wire"
)

// onPolicyTick re-reads a host's paths at every probe tick: how many work
// (and the most that did), the best one, the bulk path, and whether real-time
// packets get a second copy and after what delay. Called with e.mu
// read-locked.
func (e *Engine) onPolicyTick(h *host, now int64) {
	hp := &h.pol
	maturity := int64(e.cfg.DeadInterval)
	var best *conn
	var bestView probeView
	bestCost := 0.0
	up := int32(0)
	unmetered := false
	for _, c := range h.conns {
		if c.link.removed.Load() || !c.proven(now, e.dead) {
			continue
		}
		up++
		unmetered = unmetered || !c.metered(now)
		v := c.probes.view(now, maturity)
		c.pol.noteRTT(v.last, now)
		if cost := c.cost(v); best == nil || cost < bestCost {
			best, bestCost, bestView = c, cost, v
		}
	}
	if unmetered || hp.unmeteredAt.Load() == 0 {
		hp.unmeteredAt.Store(now) // first sight counts as "just worked": the grace runs from the start
	}
	hp.up.Store(up)
	if peak := hp.peak.Load(); up >= peak || now-hp.peakAt > int64(peakHold) {
		hp.peak.Store(up)
		hp.peakAt = now
	}
	hp.best.Store(best)
	hp.bulk.Store(e.chooseBulk(h, now, hp.bulk.Load()))

	var delay time.Duration
	if best != nil && up < hp.peak.Load() && !e.cfg.Policy.CopyAll && e.cfg.Policy.SecondCopy >= 0 {
		// Pause while the surviving path queues (a second copy must not
		// push it past its capacity, where it would delay the first
		// copies), and while it has lost nothing in its life and lately
		// (a lossless path gains nothing from a second copy, and a
		// rate-limited one such as LTE may not have room for it).
		// Queueing is two RTT samples in a row well above the base: by
		// 20 ms, half the base, and four times the path's RTT jitter (a
		// loaded machine or a jittery radio makes single samples jump). It
		// holds second copies, since the path just showed it may have no
		// room for them: a second at first, twice as long each time the
		// queue comes back soon after, up to maxQueueHold.
		base := best.pol.baseRTT.Load()
		if bestView.last > base+max(20*int64(time.Millisecond), base/2, 4*bestView.jitter) {
			hp.queueSamples++
		} else {
			hp.queueSamples = 0
		}
		if hp.queueSamples >= 2 && now >= hp.queueHeldUntil {
			switch {
			case hp.queueHold == 0 || now-hp.queueHeldUntil > 2*hp.queueHold:
				hp.queueHold = int64(minQueueHold)
			default:
				hp.queueHold = min(2*hp.queueHold, int64(maxQueueHold))
			}
			hp.queueHeldUntil = now + hp.queueHold
		}
		switch {
		case now < hp.queueHeldUntil:
			hp.held.Store(heldQueueing)
		case bestView.looksLossless() && !e.cfg.Policy.SecondCopyLossless:
			hp.held.Store(heldLossless)
		default:
			hp.held.Store(heldNot)
		}
		if hp.held.Load() == heldNot {
			delay = e.cfg.Policy.SecondCopy
			if delay == 0 {
				delay = secondCopyDelay(bestView)
			}
		}
	} else {
		hp.held.Store(heldNot)
		hp.queueHold, hp.queueHeldUntil = 0, 0
	}
	hp.secondDelay.Store(int64(delay))
}

// sendNICInfo tells the far end of c that our NIC is metered, on the
// first probes of a connection and then with every fifth: the far end
// keeps its bulk off this path, and forgets it nicInfoTTL after we stop.
// Unmetered NICs send nothing, and neither does a challenge to a NIC that
// never answered us: a forged source earns one packet back, not two.
// Called with e.mu read-locked.
func (e *Engine) sendNICInfo(c *conn, seq uint32, now int64) {
	if !c.link.metered.Load() || !c.remote.proven.Load() || (seq > 5 && seq%5 != 0) {
		return
	}
	var body [wire.NICInfoLen]byte
	if (&wire.NICInfo{Flags: wire.NICMetered}).Encode(body[:]) != nil {
		return
	}
	e.enqueue(c.link, c, c.remote.addr, wire.Header{State: uint8(c.state(now, e.dead)), Kind: wire.KindNICInfo,
		SrcIndex: uint32(c.link.index), DstIndex: c.remote.index}, body[:], 0)
}

// onNICInfo takes what the far end says of its NIC, only on a path that
// answered our probes: a stranger cannot mark paths metered (and earns no
// packet back). Called with e.mu read-locked.
func (e *Engine) onNICInfo(c *conn, body []byte, now int64) {
	var n wire.NICInfo
	if wire.DecodeNICInfo(body, &n) != nil {
		e.stats.malformed[wire.ErrLength].Add(1)
		return
	}
	e.applyNICInfo(c, n.Flags&wire.NICMetered != 0, now)
}

// applyNICInfo records whether the far end's NIC of c is metered (from a
// NIC info, or in keyed mode a sealed probe's flag). Called with e.mu
// read-locked.
func (e *Engine) applyNICInfo(c *conn, metered bool, now int64) {
	if !c.proven(now, e.dead) {
		e.stats.pol.nicInfoIgnored.Add(1)
		return
	}
	e.stats.pol.nicInfo.Add(1)
	was := now < c.remote.meteredUntil.Load()
	if metered {
		c.remote.meteredUntil.Store(now + int64(nicInfoTTL))
		if !was {
			c.host.pol.bulk.Store(nil) // choose again at once: bulk may be on this path
		}
	} else {
		c.remote.meteredUntil.Store(0)
	}
}

// Budget warnings given per metered link: none yet, 80 %, reached.
const (
	budgetNone uint32 = iota
	budgetNear
	budgetReached
)

// checkBudgets warns (once each) when a metered link has sent 80 % of
// Policy.MeteredBudget and when it has sent all of it. Called with e.mu
// read-locked; the warning goes through the event queue.
func (e *Engine) checkBudgets() {
	budget := e.cfg.Policy.MeteredBudget
	if budget == 0 {
		return
	}
	for _, ll := range e.links {
		if !ll.metered.Load() {
			continue
		}
		used := ll.txBytes.Load()
		level, why := budgetNone, ""
		switch {
		case used >= budget:
			level, why = budgetReached, "has sent all of"
		case used >= budget/10*8:
			level, why = budgetNear, "has sent 80 % of"
		}
		if prev := ll.budgetWarned.Load(); level > prev && ll.budgetWarned.CompareAndSwap(prev, level) {
			e.note(event{kind: evBudget, link: ll.name, why: why, sent: used, budget: budget})
		}
	}
}
