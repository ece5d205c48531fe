package aggregator

import (
	"maps"
	"net/netip"
	"time"
)

// Reconfiguration of a running engine (polylink's SIGHUP reload). Each
// setter changes one setting under the write lock, which every reader of
// that setting holds at least for reading, and touches nothing else: links,
// hosts, connections and their handshake state stay as they are, so a
// stream running over them goes on without a gap.

// SetPeers replaces the configured peer endpoints (port 0: raw IP-in-IP;
// cmd calls it on reload and when a peer's DNS name resolves anew). A new address is probed
// at once from every link, then at the probe interval until it answers
// (discovery, timers.go), so its paths come up within a round trip of the
// call. Hosts already learned through a removed address stay until they go
// silent, like any host. Safe after Close (it does nothing then).
func (e *Engine) SetPeers(peers []netip.AddrPort) {
	set := make(map[netip.AddrPort]bool, len(peers))
	for _, p := range peers {
		set[netip.AddrPortFrom(p.Addr().Unmap(), p.Port())] = true
	}
	e.mu.Lock()
	if e.closed || maps.Equal(set, e.peers) {
		e.mu.Unlock()
		return
	}
	e.peers = set
	e.cfg.Peers = append([]netip.AddrPort(nil), peers...)
	e.mu.Unlock()

	e.discoverRounds.Store(0) // fast discovery again (timers.go)
	e.mu.RLock()
	defer e.mu.RUnlock()
	e.discoverLocked(e.now(), nil)
}

// SetProbeInterval changes the probe interval and with it the dead
// interval, which keeps its ratio to the probe interval (3 by default).
// The timer takes the new interval at its next tick. d must be positive;
// other values are ignored.
func (e *Engine) SetProbeInterval(d time.Duration) {
	if d <= 0 {
		return
	}
	e.mu.Lock()
	if e.closed || d == e.cfg.ProbeInterval {
		e.mu.Unlock()
		return
	}
	ratio := float64(e.cfg.DeadInterval) / float64(e.cfg.ProbeInterval)
	e.cfg.ProbeInterval = d
	e.cfg.DeadInterval = time.Duration(ratio * float64(d))
	e.dead = int64(e.cfg.DeadInterval)
	e.mu.Unlock()
	for { // one slot: a change the timer has not taken yet is replaced
		select {
		case e.retick <- d:
			return
		default:
			select {
			case <-e.retick:
			default:
			}
		}
	}
}

// probeInterval is the current probe interval, for readers that do not
// hold e.mu.
func (e *Engine) probeInterval() time.Duration {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cfg.ProbeInterval
}

// SetPolicy replaces the traffic policy (--class, --metered, --redundancy,
// --metered-grace, --metered-budget, --second-copy; the flow table keeps
// its size). Every reader of the policy holds e.mu, so the swap is one
// write-locked step: the next packet is classified and placed under the
// new policy, packets already queued go as they were. Each link's metered
// mark is recomputed from its NIC name, every host's bulk path and second
// copies are chosen again at the next timer tick (a metered change may
// have made the old choice wrong), and the budget warnings re-arm when the
// budget changed.
func (e *Engine) SetPolicy(p Policy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	p.FlowTableSize = e.cfg.Policy.FlowTableSize
	p.setDefaults()
	budgetChanged := p.MeteredBudget != e.cfg.Policy.MeteredBudget
	e.cfg.Policy = p
	for _, ll := range e.links {
		ll.metered.Store(p.meteredName(ll.name))
		if budgetChanged {
			ll.budgetWarned.Store(budgetNone)
		}
	}
	for _, h := range e.hosts {
		h.pol.bulk.Store(nil)
	}
}
