package aggregator

import (
	"net/netip"
	"slices"
	"time"

	"github.com/polylink/polylink/session"
	"github.com/polylink/polylink/wire"
)

// keyedConnLocked is connLocked for a keyed node: the packet verified under
// kp's key and kp owns vip (keyedOwns), so the host, the remote NIC and the
// connection may be learned, within the same bounds as keyless. Called with
// e.mu read-locked; returns with it read-locked.
func (e *Engine) keyedConnLocked(ll *localLink, src netip.AddrPort, kp *keyedPeer, vip netip.Addr, srcPath uint32, now int64) *conn {
	key := remoteKey{index: srcPath, addr: src}
	if hs := e.hosts[vip]; hs != nil && hs.kp == kp {
		if r := hs.remotes[key]; r != nil {
			if c := hs.connFor(ll, r); c != nil {
				return c
			}
		}
	}
	e.mu.RUnlock()
	defer e.mu.RLock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.links[ll.key()] != ll {
		return nil
	}
	hs := e.hosts[vip]
	if hs != nil && hs.kp != kp {
		// Learned before under another key (a keyless leftover cannot
		// exist; a re-bound gateway address can): the key decides.
		e.removeHostLocked(hs, "address now spoken for by another key")
		e.dedup.Remove(vip) // another peer's IDs: nothing in common
		hs = nil
	}
	if hs == nil {
		if len(e.hosts) >= e.cfg.MaxHosts && !e.evictForNewHost(now) {
			e.stats.unknownHost.Add(1)
			return nil
		}
		hs = e.addHostLocked(vip, kp.gateway, now)
		hs.kp = kp
	}
	return e.connOfLocked(hs, ll, key, now)
}

// keyedHandshakeDone: our initiation was answered. Probe every path of the
// peer's host at once (the responder starts sealing with the new keypair
// when it sees it used), or, for a gateway we have no host of yet, its
// configured addresses.
func (e *Engine) keyedHandshakeDone(kp *keyedPeer) {
	now := e.now()
	e.mu.RLock()
	defer e.mu.RUnlock()
	if vp := kp.vip.Load(); vp != nil {
		if h := e.hosts[*vp]; h != nil && h.kp == kp && len(h.conns) > 0 {
			for _, c := range h.conns {
				e.probe(c, now)
			}
			return
		}
	}
	if kp.gateway {
		e.discoverKeyed(now, nil, true)
	}
}

// keyedTick runs every peer's session timer and sends the initiations it
// asks for on every path of the peer at once. Called with e.mu read-locked.
func (e *Engine) keyedTick(now int64) {
	wall := time.Now()
	for _, kp := range e.keyed.set.Load().byKey {
		due := kp.peer.Tick(wall)
		// An initiation unanswered for the retry gap is sent again, new
		// ephemeral and all, rather than after WireGuard's 5 s: a peer
		// that was down for a moment (restarted) is back within a second
		// of answering. Bounded: one per gap per peer and path.
		if last := kp.lastInit.Load(); !due && last != 0 && now-last >= e.keyed.retry {
			due = kp.peer.Status(wall).Handshake == "initiation-sent"
		}
		if due {
			e.initiate(kp, now, nil)
		}
	}
}

// discoverKeyed finds the gateway: while its key has no keypair, an
// initiation on every link to every --peer address (at most every retry);
// with one, a sealed probe to every --peer address not yet a proven NIC
// (their answers create the host and its connections). force skips the
// retry gap. Called with e.mu read-locked.
func (e *Engine) discoverKeyed(now int64, only *localLink, force bool) {
	gw := e.keyed.set.Load().gw
	if gw == nil || len(e.peers) == 0 {
		return
	}
	if !gw.peer.Status(time.Now()).Keyed {
		if last := gw.lastInit.Load(); force || last == 0 || now-last >= e.keyed.retry {
			e.initiate(gw, now, only)
		}
		return
	}
	known := e.provenAddrs()
	p := wire.ProbeV2{Host: e.cfg.VIP}
	for addr := range e.peers {
		if known[addr] {
			continue
		}
		for _, ll := range e.links {
			if (only == nil || ll == only) && ll.kind == KindOf(addr) {
				p.SrcPath = uint32(ll.index)
				e.sealProbeTo(ll, nil, addr, gw, &p)
			}
		}
	}
}

// provenAddrs returns the addresses of remote NICs that answered us.
// Called with e.mu held.
func (e *Engine) provenAddrs() map[netip.AddrPort]bool {
	known := map[netip.AddrPort]bool{}
	for _, h := range e.hosts {
		for _, r := range h.remotes {
			if r.proven.Load() {
				known[r.addr] = true
			}
		}
	}
	return known
}

// initiate writes one initiation for kp and sends it on every path at once:
// every connection of its host, and for the gateway every link to every
// --peer address; each copy gets its path's mac2. Called with e.mu
// read-locked.
func (e *Engine) initiate(kp *keyedPeer, now int64, only *localLink) {
	var m [wire.InitiationLen]byte
	wall := time.Now()
	msg, err := kp.peer.WriteInitiation(m[:0], wall)
	if err != nil {
		e.keyed.stats.sealFailed.Add(1)
		return
	}
	kp.lastInit.Store(now)
	sent := map[session.Path]bool{}
	send := func(ll *localLink, c *conn, dst netip.AddrPort) {
		path := session.Path{Local: uint32(ll.index), Remote: dst}
		if sent[path] || only != nil && ll != only {
			return
		}
		sent[path] = true
		b := bufPool.Get().(*packetBuf)
		n := copy(b[:], msg)
		kp.peer.StampMac2(b[:n], path, wall)
		e.keyed.stats.initiations.Add(1)
		e.transmit(ll, c, b, n, dst, 0) // handshakes go best effort
	}
	if vp := kp.vip.Load(); vp != nil {
		if h := e.hosts[*vp]; h != nil && h.kp == kp {
			// Only to NICs that answered us while there are any: a source
			// learned from a raced capture gets no initiations.
			anyProven := slices.ContainsFunc(h.conns, func(c *conn) bool { return c.remote.proven.Load() })
			for _, c := range h.conns {
				if !anyProven || c.remote.proven.Load() {
					send(c.link, c, c.remote.addr)
				}
			}
		}
	}
	if kp.gateway {
		for addr := range e.peers {
			for _, ll := range e.links {
				if ll.kind == KindOf(addr) {
					send(ll, nil, addr)
				}
			}
		}
	}
}
