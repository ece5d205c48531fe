package aggregator

import (
	"iter"
	"maps"
	"net/netip"

	"github.com/polylink/polylink/wire"
)

// connLocked finds the connection a packet came on, learning the host, the
// remote NIC and the connection when they are new and acceptable. It is called with e.mu read-locked and
// returns with it read-locked; it takes the write lock only to learn
// something new. nil means drop the packet.
//
// A remote NIC is its host's ifindex and address together: a packet from a
// known NIC index but another address makes a new remote NIC, which must
// prove itself like any other, rather than redirecting a working path to
// whoever forged that source address.
func (e *Engine) connLocked(ll *localLink, src netip.AddrPort, h *wire.Header, now int64) *conn {
	key := remoteKey{index: h.SrcIndex, addr: src}
	hs := e.hosts[h.Host]
	if hs != nil {
		if r := hs.remotes[key]; r != nil {
			if c := hs.connFor(ll, r); c != nil {
				return c
			}
		}
	} else if !e.isPeer(src) && !e.cfg.Router {
		e.stats.unknownHost.Add(1) // decided without the write lock: strangers cannot stall the engine
		return nil
	} else if !e.cfg.AcceptHost(h.Host) {
		return nil // counted by AcceptHost's owner
	}
	e.mu.RUnlock()
	defer e.mu.RLock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.links[ll.key()] != ll {
		return nil // the link went away meanwhile
	}
	if hs = e.hosts[h.Host]; hs == nil {
		if hs = e.learnHost(h.Host, src, now); hs == nil {
			e.stats.unknownHost.Add(1)
			return nil
		}
	}
	return e.connOfLocked(hs, ll, key, now)
}

// learnHost accepts a new host if it came through a configured peer address
// or this node is a router, within MaxHosts. Called with e.mu write-locked.
func (e *Engine) learnHost(vip netip.Addr, src netip.AddrPort, now int64) *host {
	viaPeer := e.isPeer(src)
	if !viaPeer && !e.cfg.Router {
		return nil
	}
	if len(e.hosts) >= e.cfg.MaxHosts && !e.evictForNewHost(now) {
		return nil
	}
	return e.addHostLocked(vip, viaPeer, now)
}

// addHostLocked adds host vip to the table. Called with e.mu write-locked.
func (e *Engine) addHostLocked(vip netip.Addr, gateway bool, now int64) *host {
	h := &host{vip: vip, gateway: gateway, remotes: map[remoteKey]*remoteNIC{}}
	h.nextID.Store(randomUint32() % 8192)
	h.lastRx.Store(now)
	e.hosts[vip] = h
	e.updateGateway()
	// Logged once it answers a probe (onProven): a flood of forged
	// addresses must not flood the log.
	return h
}

// evictForNewHost makes room in a full host table: first the oldest host
// that never answered one of our probes (a flood of forged addresses only
// ever evicts itself), else the longest-silent host if it is past the dead
// interval. false means the table stays full and the newcomer is refused.
func (e *Engine) evictForNewHost(now int64) bool {
	victim := pickVictim(maps.Values(e.hosts), now, e.dead)
	if victim == nil {
		return false
	}
	e.removeHostLocked(victim, "evicted: host table full")
	e.stats.hostsEvicted.Add(1)
	return true
}

// learnRemote adds a NIC of host hs (one endpoint of it: a NIC reached
// both raw and over UDP, or through a NAT that changed its mapping, is
// several) and a connection to it from every local link of the same kind,
// within MaxRemotesPerHost: when full, the oldest NIC that never
// answered a probe goes first, else one silent past the dead interval.
// Called with e.mu write-locked.
func (e *Engine) learnRemote(hs *host, key remoteKey, now int64) *remoteNIC {
	if len(hs.remotes) >= e.cfg.MaxRemotesPerHost {
		victim := pickVictim(maps.Values(hs.remotes), now, e.dead)
		if victim == nil {
			return nil
		}
		hs.forgetRemote(victim)
	}
	r := &remoteNIC{index: key.index, addr: key.addr}
	r.lastRx.Store(now)
	hs.remotes[key] = r
	for _, ll := range e.links {
		if ll.kind == r.kind() {
			hs.conns = append(hs.conns, &conn{host: hs, link: ll, remote: r})
		}
	}
	return r
}

// removeHostLocked forgets h. Its duplicate window stays (the table is
// bounded, least recently used first out): copies of its last packets may
// still be on their way on other paths, and a window removed now would
// take them for new packets, delivered or forwarded twice. A window
// entry counts as a duplicate for dedup.Expiry only, so a host learned
// again later starts as good as fresh, and a restarted one resets it by
// its new epoch. Called with e.mu write-locked.
func (e *Engine) removeHostLocked(h *host, why string) {
	delete(e.hosts, h.vip)
	e.updateGateway()
	if h.established.Load() {
		e.note(event{kind: evHostLeft, host: h.vip, why: why})
		e.discoverRounds.Store(0) // look for it again at the probe interval
	}
}

// evictable is what eviction knows of a host or a remote NIC.
type evictable interface {
	comparable
	// answered reports whether it ever answered one of our probes.
	answered() bool
	// heardAt is the engine time of its last packet that counts.
	heardAt() int64
}

func (h *host) answered() bool      { return h.established.Load() }
func (h *host) heardAt() int64      { return h.lastRx.Load() }
func (r *remoteNIC) answered() bool { return r.proven.Load() }
func (r *remoteNIC) heardAt() int64 { return r.lastRx.Load() }

// pickVictim chooses what a full table gives up for a newcomer: the entry
// silent longest among those that never answered our probes (a flood of
// forged ones only ever evicts itself), else the one silent longest if that
// is past the dead interval dead; the zero T (nil) if none may go.
func pickVictim[T evictable](all iter.Seq[T], now, dead int64) T {
	var unproven, silent, none T
	for v := range all {
		if !v.answered() {
			if unproven == none || v.heardAt() < unproven.heardAt() {
				unproven = v
			}
		} else if silent == none || v.heardAt() < silent.heardAt() {
			silent = v
		}
	}
	if unproven != none {
		return unproven
	}
	if silent != none && now-silent.heardAt() >= dead {
		return silent
	}
	return none
}

// connOfLocked returns hs's connection from ll to the remote NIC key,
// learning the remote NIC (bounded) and creating the connection if new; nil
// (counted) when the NIC table refuses it. Called with e.mu write-locked.
func (e *Engine) connOfLocked(hs *host, ll *localLink, key remoteKey, now int64) *conn {
	r := hs.remotes[key]
	if r == nil {
		if r = e.learnRemote(hs, key, now); r == nil {
			e.stats.unknownHost.Add(1)
			return nil
		}
	}
	if c := hs.connFor(ll, r); c != nil {
		return c
	}
	c := &conn{host: hs, link: ll, remote: r}
	hs.conns = append(hs.conns, c)
	return c
}
