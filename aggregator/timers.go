package aggregator

import (
	"time"

	"go.uber.org/zap"

	"github.com/polylink/polylink/wire"
)

// idLimit is the physical limit of the 13-bit ID: 8192 IDs per 500 ms
// window. Past it, new packets look like duplicates of recent ones.
const idLimit = wire.IDSpace * 2 // packets per second

// timerLoop runs the engine's clock work at every probe interval: probes,
// the dead interval, expiry of silent hosts, rates.
func (e *Engine) timerLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
			e.onProbeTick()
		}
	}
}

// onProbeTick expires what has been silent too long, then probes every
// connection and every configured peer not yet found.
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
				e.log.Info("path down", zap.String("link", c.link.name),
					zap.Stringer("remote", c.remote.addr), zap.Stringer("host", h.vip),
					zap.Duration("unanswered", time.Duration(now-c.provenAt.Load())))
			}
			e.probe(c, now)
		}
	}
	e.discoverLocked(now, nil)
}

// probeNow probes at once every connection over ll and every peer not yet
// found: a new link need not wait for the next tick.
func (e *Engine) probeNow(ll *localLink) {
	now := e.now()
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.links[ll.index] != ll {
		return
	}
	for _, h := range e.hosts {
		for _, c := range h.conns {
			if c.link == ll {
				e.probe(c, now)
			}
		}
	}
	e.discoverLocked(now, ll)
}

func (e *Engine) probe(c *conn, now int64) {
	p := wire.Probe{SendTime: now, Seq: c.probes.next(now), Epoch: e.epoch}
	e.sendProbe(c, wire.KindProbe, &p, now)
}

// sendProbe queues a probe or probe reply on c. Called with e.mu read-locked.
func (e *Engine) sendProbe(c *conn, kind wire.Kind, p *wire.Probe, now int64) {
	var body [wire.ProbeLen]byte
	if p.Encode(body[:]) != nil {
		return
	}
	e.enqueue(c.link, c, c.remote.addr, wire.Header{State: uint8(c.state(now, e.dead)), Kind: kind,
		SrcIndex: uint32(c.link.index), DstIndex: c.remote.index}, body[:])
	e.stats.probesSent.Add(1)
}

// discoverLocked probes configured peer addresses that no known remote NIC
// has yet, from every link (or only ll): their replies create the host.
// Called with e.mu read-locked.
func (e *Engine) discoverLocked(now int64, only *localLink) {
	if len(e.peers) == 0 {
		return
	}
	known := map[[4]byte]bool{} // addresses of NICs that answered us: a forged one must not stop discovery
	for _, h := range e.hosts {
		for _, r := range h.remotes {
			if r.proven.Load() {
				known[r.addr.As4()] = true
			}
		}
	}
	var body [wire.ProbeLen]byte
	p := wire.Probe{SendTime: now, Epoch: e.epoch}
	if p.Encode(body[:]) != nil {
		return
	}
	for addr := range e.peers {
		if known[addr.As4()] {
			continue
		}
		for _, ll := range e.links {
			if only != nil && ll != only {
				continue
			}
			e.enqueue(ll, nil, addr, wire.Header{Kind: wire.KindProbe, SrcIndex: uint32(ll.index)}, body[:])
			e.stats.probesSent.Add(1)
		}
	}
}

// expireLocked forgets hosts and remote NICs silent past HostTimeout and
// updates rates, warning when a bundle nears the ID limit. Called with e.mu
// write-locked.
func (e *Engine) expireLocked(now int64) {
	timeout := int64(e.cfg.HostTimeout)
	for _, h := range e.hosts {
		if now-h.lastRx.Load() > timeout {
			e.removeHostLocked(h, "silent past the host timeout")
			continue
		}
		for key, r := range h.remotes {
			if now-r.lastRx.Load() > timeout {
				h.dropConns(func(c *conn) bool { return c.remote == r })
				delete(h.remotes, key)
				if r.proven.Load() {
					e.log.Info("remote NIC forgotten", zap.Stringer("host", h.vip),
						zap.Uint32("index", r.index), zap.Stringer("addr", r.addr))
				}
			}
		}
		h.rate.update(now, h.txData.Load(), h.rxData.Load())
		peak := max(h.rate.tx, h.rate.rx)
		switch {
		case !h.rate.warned && peak > 0.75*idLimit:
			h.rate.warned = true
			e.log.Warn("bundle near the 13-bit ID window: copies skewed by more than max_skew_ms will be taken for new packets",
				zap.Stringer("host", h.vip), zap.Float64("packets_per_s", peak),
				zap.Int("window_per_s", idLimit), zap.Float64("max_skew_ms", wire.IDSpace/2/peak*1000))
		case h.rate.warned && peak < 0.5*idLimit:
			h.rate.warned = false
		}
	}
}
