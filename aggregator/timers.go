package aggregator

import (
	"net/netip"
	"time"

	"github.com/polylink/polylink/wire"
)

// idLimit is the physical limit of the 13-bit ID: 8192 IDs per 500 ms
// window. Past it, new packets look like duplicates of recent ones.
const idLimit = wire.IDSpace * 2 // packets per second

// idSkewMs is how far behind the first copy a duplicate may arrive and still
// be recognised at rate packets per second (see dedup.Window.Check).
func idSkewMs(rate float64) float64 { return wire.IDSpace / 2 / rate * 1000 }

// fastProbes is how many probes a connection that never answered gets at
// the probe interval before it backs off to slowProbe; discovery of
// configured peers backs off the same way.
const (
	fastProbes = 10
	slowProbe  = int64(time.Second)
)

// timerLoop runs the engine's clock work at every probe interval: probes,
// the dead interval, expiry of silent hosts, rates.
func (e *Engine) timerLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.probeInterval())
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
			e.onProbeTick()
		case d := <-e.retick:
			t.Reset(d)
		}
	}
}

// onProbeTick expires what has been silent too long, then probes every
// connection due (probeDue) and every configured peer not yet found.
func (e *Engine) onProbeTick() {
	now := e.now()
	e.mu.Lock()
	e.expireLocked(now)
	e.mu.Unlock()

	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, h := range e.hosts {
		for _, c := range h.conns {
			if st := c.state(now, e.dead); st != stateBoth && c.reported.CompareAndSwap(uint32(stateBoth), uint32(st)) {
				e.note(event{kind: evPathDown, link: c.link.name, remote: c.remote.addr, host: h.vip,
					d: time.Duration(now - c.provenAt.Load())})
			}
			if e.probeDue(c, now) {
				e.probe(c, now)
			}
		}
		e.onPolicyTick(h, now)
	}
	e.checkBudgets()
	if e.keyed != nil {
		e.keyedTick(now)
	}
	if e.discoverDue(now) {
		e.discoverLocked(now, nil)
	}
}

// probeDue reports whether the timer probes c now. A NIC that never
// answered us is not probed at all, only answered (handshake.go): a forged
// source address earns nothing unasked. A connection that never answered
// gets fastProbes probes at the interval, then one a second: a router with
// hundreds of hosts does not probe every dead cross-path ten times a second.
func (e *Engine) probeDue(c *conn, now int64) bool {
	if !c.remote.proven.Load() {
		return false
	}
	if c.provenAt.Load() != 0 {
		return true
	}
	sent, at := c.probes.last()
	return sent < fastProbes || now-at >= slowProbe
}

// discoverDue reports whether configured peers are probed this tick.
func (e *Engine) discoverDue(now int64) bool {
	if e.discoverRounds.Add(1) > fastProbes && now-e.discoveredAt.Load() < slowProbe {
		return false
	}
	e.discoveredAt.Store(now)
	return true
}

// probeNow probes at once every connection over ll to a NIC that answered
// us, and every peer not yet found: a new link need not wait for the next
// tick.
func (e *Engine) probeNow(ll *localLink) {
	now := e.now()
	e.discoverRounds.Store(0)
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.links[ll.key()] != ll {
		return
	}
	for _, h := range e.hosts {
		for _, c := range h.conns {
			if c.link == ll && c.remote.proven.Load() {
				e.probe(c, now)
			}
		}
	}
	e.discoverLocked(now, ll)
}

// probe sends a probe on c. Called with e.mu read-locked.
func (e *Engine) probe(c *conn, now int64) {
	if e.keyed != nil {
		e.sealProbe(c, &wire.ProbeV2{Seq: c.probes.next(now), SendTime: uint64(now)}, now)
		return
	}
	var body [wire.ProbeLen]byte
	p := wire.Probe{SendTime: now, Seq: c.probes.next(now), Epoch: e.epoch}
	_ = p.Encode(body[:])
	e.sendControl(c, wire.KindProbe, body[:], now)
	e.sendNICInfo(c, p.Seq, now)
}

// sendControl sends a probe, a reply or both on c. Called with e.mu
// read-locked.
func (e *Engine) sendControl(c *conn, kind wire.Kind, body []byte, now int64) {
	e.enqueue(c.link, c, c.remote.addr, wire.Header{State: uint8(c.state(now, e.dead)), Kind: kind,
		SrcIndex: uint32(c.link.index), DstIndex: c.remote.index}, body, 0) // probes go best effort
	e.stats.probesSent.Add(1)
}

// discoverLocked probes configured peer endpoints that no known remote NIC
// has yet, from every link of their kind (or only ll): their replies create
// the host. Called with e.mu read-locked.
func (e *Engine) discoverLocked(now int64, only *localLink) {
	if e.keyed != nil {
		e.discoverKeyed(now, only, false)
		return
	}
	peers := e.peers
	if len(peers) == 0 {
		return
	}
	known := map[netip.AddrPort]bool{} // endpoints of NICs that answered us: a forged one must not stop discovery
	for _, h := range e.hosts {
		for _, r := range h.remotes {
			if r.proven.Load() {
				known[r.addr] = true
			}
		}
	}
	var body [wire.ProbeLen]byte
	p := wire.Probe{SendTime: now, Epoch: e.epoch}
	if p.Encode(body[:]) != nil {
		return
	}
	for addr := range peers {
		if known[addr] {
			continue
		}
		for _, ll := range e.links {
			if only != nil && ll != only || ll.kind != KindOf(addr) {
				continue
			}
			e.enqueue(ll, nil, addr, wire.Header{Kind: wire.KindProbe, SrcIndex: uint32(ll.index)}, body[:], 0)
			e.stats.probesSent.Add(1)
		}
	}
}

// expireLocked forgets what has been silent too long and updates rates,
// warning when a bundle nears the ID limit. A host or remote NIC that never
// answered our probes goes after the dead interval, one that did after
// HostTimeout. Called with e.mu write-locked.
func (e *Engine) expireLocked(now int64) {
	timeout := int64(e.cfg.HostTimeout)
	for _, h := range e.hosts {
		if h.established.Load() && now-h.lastRx.Load() > timeout {
			e.removeHostLocked(h, "silent past the host timeout")
			continue
		}
		if !h.established.Load() && now-h.heardFrom() > e.dead {
			e.removeHostLocked(h, "never answered")
			continue
		}
		for _, r := range h.remotes {
			limit := timeout
			if !r.proven.Load() {
				limit = e.dead
			}
			if now-r.lastRx.Load() > limit {
				h.forgetRemote(r)
				if r.proven.Load() {
					e.note(event{kind: evRemoteForgotten, host: h.vip, rindex: r.index, remote: r.addr})
					e.discoverRounds.Store(0) // a peer address may be missing again: look at the probe interval
				}
			}
		}
		e.checkRate(h, now)
	}
}

// checkRate updates h's rates and warns once when the bundle nears the ID
// limit (again only after it fell well below). Called with e.mu write-locked.
func (e *Engine) checkRate(h *host, now int64) {
	h.rate.update(now, h.txData.Load(), h.rxData.Load())
	peak := max(h.rate.tx, h.rate.rx)
	switch {
	case !h.rate.warned && peak > 0.75*idLimit:
		h.rate.warned = true
		e.note(event{kind: evIDLimit, host: h.vip, rate: peak})
	case h.rate.warned && peak < 0.5*idLimit:
		h.rate.warned = false
	}
}
