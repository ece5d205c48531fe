package aggregator

import "github.com/polylink/polylink/wire"

// Proof on one connection, and what a packet earns back:
//
//	probe from c ─▶ c proven, epoch known: reply
//	             ─▶ otherwise: reply + a probe of ours in one packet (a
//	                reply-probe), or nothing while our last challenge on c
//	                is younger than the challenge gap (answerProbe)
//	reply to one of our probes ─▶ proof: state 2 (onProven)
//	data, or a reply that proves nothing, on c not proven
//	     ─▶ a probe of ours (a challenge), within the challenge gap
//
// So no packet earns more than one back, and the timer never probes a NIC
// that has not answered us (timers.go): a forged source address gets at
// most as many packets as the forger sent, on the path they came from.
//
// Both ends converge within one round trip: the end that learns a path
// answers with a reply-probe; the other end queues its reply to our probe
// before it records its own proof, so the first data it puts on the path
// reaches us behind the reply that proves the path for us too.

// matchReply reports whether reply answers a probe we sent on c (an RTT
// sample) from the genuine far end (acceptsProof). Called with e.mu
// read-locked.
func (e *Engine) matchReply(c *conn, reply *wire.Probe, now int64) bool {
	if !c.probes.reply(reply.Seq, reply.SendTime, now) {
		if reply.Seq != 0 { // sequence 0: an answer to a discovery probe, which has no connection
			e.stats.unmatchedReplies.Add(1)
		}
		return false
	}
	return e.acceptsProof(c, reply.Epoch)
}

// acceptsProof reports whether a matched reply proves c. Echoing our probe
// shows the far end receives what we send to its address; a new NIC of a
// host we already know must also carry that host's epoch, which only the
// host and its peers ever see. A NIC proven before may show a new epoch (the
// host restarted), and so may anyone while the host has no path up (it
// restarted with new addresses): the price of having no authentication.
func (e *Engine) acceptsProof(c *conn, epoch uint32) bool {
	h := c.host
	return c.remote.proven.Load() || !h.established.Load() || h.epoch.Load() == epoch ||
		!h.anyUp(e.now(), e.dead)
}

// onProven records that c's far end answered one of our probes: c is in
// state 2 for the dead interval, its NIC and host are genuine, and the
// epoch in the answer is the host's. Called with e.mu read-locked.
func (e *Engine) onProven(c *conn, epoch uint32, now int64) {
	if !within(c.provenAt.Swap(now), now, e.dead) {
		c.reported.Store(uint32(stateBoth))
		e.note(event{kind: evPathUp, link: c.link.name, remote: c.remote.addr, host: c.host.vip})
	}
	c.remote.proven.Store(true)
	c.host.lastRx.Store(now)
	if c.host.established.CompareAndSwap(false, true) {
		e.updateGateway()
		e.note(event{kind: evHostJoined, host: c.host.vip, remote: c.remote.addr, gateway: c.host.gateway})
	}
	e.checkEpoch(c.host, epoch)
}

// answerProbe answers probe q that came on c; proves says the same packet
// proved c for us. The answer carries a challenge (a probe of ours) while c
// is not proven or q shows an epoch we do not know (a restart, or a
// forgery: only an answer to our probe may change the epoch we hold).
//
// When such a challenge is due but the rate limit holds it back, q gets no
// answer at all: a plain reply would let the far end prove the path (and
// put data on it) before we can, if our last challenge was lost. The far
// end's next probe gets the challenge. Called with e.mu read-locked.
func (e *Engine) answerProbe(c *conn, q *wire.Probe, proves bool, now int64) {
	ep := c.host.epoch.Load()
	if proves || c.proven(now, e.dead) && (ep == 0 || ep == q.Epoch) {
		e.answer(c, q, false, now)
		return
	}
	if e.mayChallenge(c, now) {
		e.answer(c, q, true, now)
		return
	}
	e.stats.answersHeld.Add(1)
}

// challenge probes c at once if we have not proven it, within the rate
// limit. Called with e.mu read-locked.
func (e *Engine) challenge(c *conn, now int64) {
	if !c.proven(now, e.dead) && e.mayChallenge(c, now) {
		e.probe(c, now)
	}
}

// challengesPerInterval bounds the challenges on one connection per probe
// interval: the challenge gap is ProbeInterval / challengesPerInterval.
const challengesPerInterval = 4

// mayChallenge takes c's challenge slot if the last challenge is older than
// the challenge gap.
func (e *Engine) mayChallenge(c *conn, now int64) bool {
	last := c.challengedAt.Load()
	if last != 0 && now-last < int64(e.cfg.ProbeInterval)/challengesPerInterval {
		return false
	}
	return c.challengedAt.CompareAndSwap(last, now)
}

// answer replies to probe q on c, with a probe of ours in the same packet
// if withProbe. Called with e.mu read-locked.
func (e *Engine) answer(c *conn, q *wire.Probe, withProbe bool, now int64) {
	var body [2 * wire.ProbeLen]byte
	r := wire.Probe{SendTime: q.SendTime, Seq: q.Seq, Epoch: e.epoch}
	_ = r.Encode(body[:])
	if !withProbe {
		e.sendControl(c, wire.KindProbeReply, body[:wire.ProbeLen], now)
		return
	}
	p := wire.Probe{SendTime: now, Seq: c.probes.next(now), Epoch: e.epoch}
	_ = p.Encode(body[wire.ProbeLen:])
	e.sendControl(c, wire.KindReplyProbe, body[:], now)
}

// checkEpoch notices a restarted peer: its new run's IDs must not be taken
// for duplicates of the old run's, so its dedup window is reset at once.
func (e *Engine) checkEpoch(h *host, epoch uint32) {
	old := h.epoch.Swap(epoch)
	if old != 0 && old != epoch {
		e.stats.peerRestarts.Add(1)
		e.dedup.Reset(h.vip)
		e.note(event{kind: evPeerRestarted, host: h.vip})
	}
}
