package main

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/polylink/polylink/aggregator"
)

// Timing of the daemon's status watchers.
const (
	watchInterval = time.Second
	// blockedHold is how long raw IP-in-IP must go unanswered while UDP
	// works before it is reported blocked.
	blockedHold = 2 * time.Second
	// reresolveAfter is how long every path to a peer named by DNS must be
	// down before the name is resolved again.
	reresolveAfter = 30 * time.Second
)

// watchers are the daemon's slow loops over engine status: IP-in-IP
// blocked detection, the TUN MTU following the paths, and DNS
// re-resolution of named peers.
type watchers struct {
	blocked *blockedWatch
	resolve *reresolver
	done    chan struct{}
	wg      sync.WaitGroup
}

func startWatchers(cfg runConfig, peers []netip.AddrPort, eng *aggregator.Engine, mtu *mtuFollower, log *zap.Logger) *watchers {
	w := &watchers{blocked: newBlockedWatch(log, rawPeers(cfg.peers), blockedHold), done: make(chan struct{})}
	w.wg.Go(func() { w.blocked.run(eng.Status, watchInterval, w.done) })
	w.wg.Go(func() { mtu.run(eng.Status, w.done) })
	// Always: a reload may name a peer by DNS where the start had none.
	w.resolve = &reresolver{specs: cfg.peers, current: peers, eng: eng, log: log, resolver: net.DefaultResolver}
	w.wg.Go(func() { w.resolve.run(w.done) })
	return w
}

// setPeers makes the reloaded peers, specs as configured and peers as
// they resolved, the engine's and the watchers'. The re-resolver follows
// the new names from then on; a resolution of the old names still under
// way is dropped, so it cannot undo the reload.
func (w *watchers) setPeers(specs []peerSpec, peers []netip.AddrPort) {
	w.blocked.setPeers(rawPeers(specs))
	w.resolve.set(specs, peers)
}

// Close stops the watchers and waits for them.
func (w *watchers) Close() {
	close(w.done)
	w.wg.Wait()
}

// reresolver resolves the peers named by DNS again when every path to
// what they resolved to has been down for reresolveAfter: the peer moved
// (a cloud server re-created with a new address), and the robot must
// follow the name rather than keep probing the old address.
type reresolver struct {
	eng      *aggregator.Engine
	log      *zap.Logger
	resolver *net.Resolver
	upAt     time.Time // last time some path to a peer was up

	mu      sync.Mutex
	specs   []peerSpec       // guarded by mu: the configured peers
	current []netip.AddrPort // guarded by mu: what they resolved to, the engine's peers
	gen     uint64           // guarded by mu: counts set calls
}

// set replaces the peers and gives them to the engine, both under mu so
// that a resolution of the old names finishing meanwhile is not applied.
func (r *reresolver) set(specs []peerSpec, peers []netip.AddrPort) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.specs, r.current = specs, peers
	r.gen++
	r.eng.SetPeers(peers)
}

func (r *reresolver) run(done <-chan struct{}) {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	r.upAt = time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			r.check(now)
		}
	}
}

// check resolves the named peers again if every path to what they
// resolved to has been down for reresolveAfter at now.
func (r *reresolver) check(now time.Time) {
	r.mu.Lock()
	specs, current, gen := r.specs, r.current, r.gen
	r.mu.Unlock()
	if !hasNames(specs) {
		return
	}
	st := r.eng.Status()
	if anyPathUpTo(&st, current) || now.Sub(r.upAt) < reresolveAfter {
		if anyPathUpTo(&st, current) {
			r.upAt = now
		}
		return
	}
	r.upAt = now // next attempt after another reresolveAfter
	// Bounded by resolveTimeout per name.
	peers, err := resolvePeers(context.Background(), specs, r.resolver)
	if err != nil {
		r.log.Warn("every path to the peers is down and resolving them again failed; keeping the old addresses", zap.Error(err))
		return
	}
	if slices.Equal(peers, current) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen == gen { // no reload meanwhile
		r.log.Info("peers resolved to new addresses", zap.Strings("old", endpointTexts(current)), zap.Strings("new", endpointTexts(peers)))
		r.current = peers
		r.eng.SetPeers(peers)
	}
}

// anyPathUpTo reports whether some connection in state 2 reaches one of
// the endpoints.
func anyPathUpTo(st *aggregator.Status, eps []netip.AddrPort) bool {
	for _, h := range st.Hosts {
		for _, c := range h.Connections {
			if c.State != 2 {
				continue
			}
			for _, ep := range eps {
				if c.RemoteAddr == endpointText(ep) {
					return true
				}
			}
		}
	}
	return false
}

// endpointText is an endpoint as status shows it (see
// aggregator.ConnStatus.RemoteAddr): the address alone without a port.
func endpointText(ap netip.AddrPort) string {
	if ap.Port() == 0 {
		return ap.Addr().String()
	}
	return ap.String()
}

// endpointTexts is endpointText of each.
func endpointTexts(eps []netip.AddrPort) []string {
	out := make([]string, len(eps))
	for i, ep := range eps {
		out[i] = endpointText(ep)
	}
	return out
}
