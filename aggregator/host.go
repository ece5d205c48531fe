package aggregator

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// host is the bundle to one remote host: its NICs, the connections to them
// and the ID counter of the packets sent to it. Maps and slices are guarded
// by Engine.mu; counters are atomic.
type host struct {
	vip     netip.Addr
	gateway bool       // met through a configured peer address
	kp      *keyedPeer // keyed mode: the key this host speaks with; immutable
	remotes map[remoteKey]*remoteNIC
	conns   []*conn

	nextID   atomic.Uint32
	epoch    atomic.Uint32 // the peer's, from its probes; 0 = not yet known
	lastRx   atomic.Int64
	txData   atomic.Uint64 // data packets sent (IDs used)
	rxData   atomic.Uint64 // data packets delivered
	lateDups atomic.Uint64
	dups     atomic.Uint64 // copies dropped as duplicates
	// established: the host answered one of our probes, so it receives
	// what we send to its address; hosts that never did go first when
	// the table is full.
	established atomic.Bool

	// Rates, computed by the timer under Engine.mu's write lock.
	rate rateMeter
	pol  hostPolicy
}

// connFor returns the connection over link ll to remote NIC r, or nil.
func (h *host) connFor(ll *localLink, r *remoteNIC) *conn {
	for _, c := range h.conns {
		if c.link == ll && c.remote == r {
			return c
		}
	}
	return nil
}

// dropConns removes the connections drop selects. Called with Engine.mu
// write-locked.
func (h *host) dropConns(drop func(*conn) bool) {
	kept := h.conns[:0]
	for _, c := range h.conns {
		if !drop(c) {
			kept = append(kept, c)
		}
	}
	clear(h.conns[len(kept):])
	h.conns = kept
	// the policy's chosen paths may have gone: choose again
	h.pol.bulk.Store(nil)
	h.pol.best.Store(nil)
}

// forgetRemote drops remote NIC r and the connections to it. Called with
// Engine.mu write-locked.
func (h *host) forgetRemote(r *remoteNIC) {
	h.dropConns(func(c *conn) bool { return c.remote == r })
	delete(h.remotes, remoteKey{r.index, r.addr})
}

// heardFrom is the engine time of the last packet from any of h's NICs,
// proven or not; h.lastRx counts only proven ones. Called with Engine.mu
// held.
func (h *host) heardFrom() int64 {
	t := h.lastRx.Load()
	for _, r := range h.remotes {
		t = max(t, r.lastRx.Load())
	}
	return t
}

// anyUp reports whether some connection is in state 2 (proven within the
// dead interval). Data goes on every connection in state 2, or on all of
// them while none is. Called with Engine.mu held.
func (h *host) anyUp(now, dead int64) bool {
	for _, c := range h.conns {
		if c.proven(now, dead) {
			return true
		}
	}
	return false
}

// rateMeter turns the host's data counters into packets per second.
type rateMeter struct {
	at             int64
	lastTx, lastRx uint64
	tx, rx         float64
	warned         bool
}

// update recomputes the rates once a second.
func (m *rateMeter) update(now int64, tx, rx uint64) {
	if m.at != 0 && now-m.at < int64(time.Second) {
		return
	}
	if m.at != 0 {
		secs := float64(now-m.at) / 1e9
		m.tx = float64(tx-m.lastTx) / secs
		m.rx = float64(rx-m.lastRx) / secs
	}
	m.at, m.lastTx, m.lastRx = now, tx, rx
}
