package aggregator

import (
	"net/netip"

	"github.com/polylink/polylink/session"
)

// SetKeyed replaces the allowed keys of a keyed engine (polylink's SIGHUP
// reload): hosts binds each --allow key to its virtual address, gateway is
// the --peer-key peer (nil: none); the caller has already added, removed
// and re-bound them in the session.Node. A key whose role is unchanged
// keeps its host, connections and sessions, so a stream over it goes on
// without a gap. The host of a key that is gone, or whose virtual address
// changed, is removed at once with its connections and paths: nothing more
// is sent to it, and its packets, which the node refuses from now on,
// find nothing to be delivered to. A new key's host is learned from its
// first sealed probe, like any host; for a new gateway, discovery starts
// at once. It does nothing on a keyless engine or after Close.
func (e *Engine) SetKeyed(hosts map[*session.Peer]netip.Addr, gateway *session.Peer) {
	if e.keyed == nil {
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	old := e.keyed.set.Load()
	next := newKeyedSet(old, hosts, gateway)
	e.keyed.set.Store(next)
	for _, h := range e.hosts {
		if h.kp != nil && next.peers[h.kp.peer] != h.kp {
			e.removeHostLocked(h, "its key is no longer allowed (reload)")
		}
	}
	e.mu.Unlock()
	if next.gw != nil && next.gw != old.gw {
		e.discoverRounds.Store(0) // fast discovery again (timers.go)
		e.mu.RLock()
		defer e.mu.RUnlock()
		e.discoverKeyed(e.now(), nil, true)
	}
}
