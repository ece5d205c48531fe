package aggregator

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/polylink/polylink/dedup"
	"github.com/polylink/polylink/wire"
)

// readLoop is one link's reader: it runs until the Link is closed.
func (e *Engine) readLoop(ll *localLink, l Link) {
	defer e.wg.Done()
	buf := make([]byte, 65536)
	for {
		pkt, src, err := l.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			e.stats.readErrors.Add(1)
			select { // a persistent error must not spin a core
			case <-e.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		e.handle(ll, src, pkt)
	}
}

// handle runs one received bundle packet through decode, the connection's
// handshake and, for data, the duplicate filter.
func (e *Engine) handle(ll *localLink, src netip.Addr, pkt []byte) {
	e.stats.rxPackets.Add(1)
	var h wire.Header
	body, err := wire.Decode(pkt, &h)
	if err != nil {
		var we wire.Error
		if errors.As(err, &we) && int(we) < len(e.stats.malformed) {
			e.stats.malformed[we].Add(1)
		} else {
			e.stats.malformed[0].Add(1)
		}
		return
	}
	if h.Host == e.cfg.VIP {
		e.stats.ownPackets.Add(1)
		return
	}
	if h.DstIndex != 0 && h.DstIndex != uint32(ll.index) {
		// Meant for another NIC of ours (or forged): taking it would
		// credit the wrong path.
		e.stats.misdirected.Add(1)
		return
	}
	var probe wire.Probe
	if h.Kind != wire.KindData {
		if err := wire.DecodeProbe(body, &probe); err != nil {
			e.stats.malformed[wire.ErrLength].Add(1)
			return
		}
	}
	now := e.now()
	e.mu.RLock()
	c := e.connLocked(ll, src, &h, now)
	if c == nil {
		e.mu.RUnlock()
		return
	}
	if c.onReceive(h.State, now, len(pkt)) {
		e.log.Info("path up", zap.String("link", ll.name), zap.Stringer("remote", src),
			zap.Stringer("host", h.Host))
	}
	c.host.lastRx.Store(now)
	c.remote.lastRx.Store(now)
	switch h.Kind {
	case wire.KindData:
		deliver := e.firstCopy(c, &h, now)
		// Deliver may Send (a router relays), which read-locks again: a
		// recursive read lock can deadlock behind a waiting writer.
		e.mu.RUnlock()
		if deliver {
			e.cfg.Deliver(h.Host, body)
		}
		return
	case wire.KindProbe:
		e.checkEpoch(c.host, probe.Epoch)
		reply := probe
		reply.Epoch = e.epoch
		e.sendProbe(c, wire.KindProbeReply, &reply)
	case wire.KindProbeReply:
		if c.probes.reply(probe.Seq, probe.SendTime, now) {
			// Only a host that answers our own probes has shown it
			// receives us; before that it may be a forged address.
			c.host.established.Store(true)
			e.checkEpoch(c.host, probe.Epoch)
		}
	}
	e.mu.RUnlock()
}

// firstCopy runs a data packet through the duplicate filter and counts it;
// it reports whether this copy is the one to deliver.
func (e *Engine) firstCopy(c *conn, h *wire.Header, now int64) bool {
	switch e.dedup.Check(h.Host, h.ID, now) {
	case dedup.Duplicate:
		e.stats.duplicatesDropped.Add(1)
		return false
	case dedup.AcceptedLate:
		e.stats.lateDuplicates.Add(1)
		c.host.lateDups.Add(1)
	default:
		c.firstWins.Add(1)
	}
	c.host.rxData.Add(1)
	e.stats.delivered.Add(1)
	return true
}

// checkEpoch notices a restarted peer: its new run's IDs must not be taken
// for duplicates of the old run's, so its dedup window is reset at once.
func (e *Engine) checkEpoch(h *host, epoch uint32) {
	old := h.epoch.Swap(epoch)
	if old != 0 && old != epoch {
		e.dedup.Reset(h.vip)
		e.log.Info("peer restarted", zap.Stringer("host", h.vip))
	}
}

// connLocked finds the connection a packet came on, learning the host, the
// remote NIC and the connection when they are new and acceptable. It is
// called with e.mu read-locked and returns with it read-locked; it takes the
// write lock only to learn something new. nil means drop the packet.
func (e *Engine) connLocked(ll *localLink, src netip.Addr, h *wire.Header, now int64) *conn {
	if hs := e.hosts[h.Host]; hs != nil {
		if r := hs.remotes[h.SrcIndex]; r != nil && r.addr == src {
			if c := hs.connFor(ll, r); c != nil {
				return c
			}
		}
	}
	e.mu.RUnlock()
	defer e.mu.RLock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.links[ll.index] != ll {
		return nil // the link went away meanwhile
	}
	hs := e.hosts[h.Host]
	if hs == nil {
		if hs = e.learnHost(h.Host, src, now); hs == nil {
			e.stats.unknownHost.Add(1)
			return nil
		}
	}
	r := hs.remotes[h.SrcIndex]
	if r == nil {
		if r = e.learnRemote(hs, h.SrcIndex, src, now); r == nil {
			e.stats.unknownHost.Add(1)
			return nil
		}
	}
	if r.addr != src {
		e.log.Info("remote NIC moved", zap.Stringer("host", hs.vip), zap.Uint32("index", r.index),
			zap.Stringer("from", r.addr), zap.Stringer("to", src))
		r.addr = src
	}
	if c := hs.connFor(ll, r); c != nil {
		return c
	}
	c := &conn{host: hs, link: ll, remote: r}
	hs.conns = append(hs.conns, c)
	return c
}

// learnHost accepts a new host if it came through a configured peer address
// or this node is a router, within MaxHosts. Called with e.mu write-locked.
func (e *Engine) learnHost(vip, src netip.Addr, now int64) *host {
	viaPeer := e.peers[src]
	if !viaPeer && !e.cfg.Router {
		return nil
	}
	if len(e.hosts) >= e.cfg.MaxHosts && !e.evictForNewHost(now) {
		return nil
	}
	h := &host{vip: vip, gateway: viaPeer, remotes: map[uint32]*remoteNIC{}}
	h.nextID.Store(randomUint32() % 8192)
	h.lastRx.Store(now)
	e.hosts[vip] = h
	e.log.Info("host joined", zap.Stringer("host", vip), zap.Stringer("via", src))
	return h
}

// evictForNewHost makes room in a full host table: first the oldest host
// that never answered one of our probes (a flood of forged addresses only
// ever evicts itself), else the longest-silent host if it is past the dead
// interval. false means the table stays full and the newcomer is refused.
func (e *Engine) evictForNewHost(now int64) bool {
	var unproven, silent *host
	for _, h := range e.hosts {
		if !h.established.Load() {
			if unproven == nil || h.lastRx.Load() < unproven.lastRx.Load() {
				unproven = h
			}
		} else if silent == nil || h.lastRx.Load() < silent.lastRx.Load() {
			silent = h
		}
	}
	victim := unproven
	if victim == nil && silent != nil && now-silent.lastRx.Load() >= int64(e.cfg.DeadInterval) {
		victim = silent
	}
	if victim == nil {
		return false
	}
	e.removeHostLocked(victim, "evicted: host table full")
	e.stats.hostsEvicted.Add(1)
	return true
}

// learnRemote adds a NIC of host hs and a connection to it from every
// local link, within MaxRemotesPerHost. Called with e.mu write-locked.
func (e *Engine) learnRemote(hs *host, index uint32, src netip.Addr, now int64) *remoteNIC {
	if len(hs.remotes) >= e.cfg.MaxRemotesPerHost {
		var oldest *remoteNIC
		for _, r := range hs.remotes {
			if oldest == nil || r.lastRx.Load() < oldest.lastRx.Load() {
				oldest = r
			}
		}
		if now-oldest.lastRx.Load() < int64(e.cfg.DeadInterval) {
			return nil
		}
		e.removeRemoteLocked(hs, oldest)
	}
	r := &remoteNIC{index: index, addr: src}
	r.lastRx.Store(now)
	hs.remotes[index] = r
	for _, ll := range e.links {
		hs.conns = append(hs.conns, &conn{host: hs, link: ll, remote: r})
	}
	return r
}

func (e *Engine) removeRemoteLocked(hs *host, r *remoteNIC) {
	delete(hs.remotes, r.index)
	kept := hs.conns[:0]
	for _, c := range hs.conns {
		if c.remote != r {
			kept = append(kept, c)
		}
	}
	clear(hs.conns[len(kept):])
	hs.conns = kept
}

func (e *Engine) removeHostLocked(h *host, why string) {
	delete(e.hosts, h.vip)
	e.dedup.Remove(h.vip)
	e.log.Info("host left", zap.Stringer("host", h.vip), zap.String("why", why))
}
