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

// readBatch is how many packets a batch read takes at most, and
// readBatchBuf each one's buffer: a jumbo frame's payload fits.
const (
	readBatch    = 16
	readBatchBuf = 9216
)

// readLoop is one link's reader: it runs until the Link is closed.
func (e *Engine) readLoop(ll *localLink, l Link) {
	defer e.wg.Done()
	br, ok := l.(BatchReader)
	if !ok {
		br = oneAtATime{l}
	}
	bufs := make([][]byte, readBatch)
	for i := range bufs {
		bufs[i] = make([]byte, readBatchBuf)
	}
	pkts := make([][]byte, readBatch)
	srcs := make([]netip.Addr, readBatch)
	failures := 0
	for {
		n, err := br.ReadBatch(bufs, pkts, srcs)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			e.stats.readErrors.Add(1)
			// One bad packet costs nothing; a persistent error must not
			// spin a core.
			if failures++; failures > 3 {
				select {
				case <-e.done:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			continue
		}
		failures = 0
		for i := range n {
			if pkts[i] == nil {
				e.stats.readErrors.Add(1)
				continue
			}
			e.handle(ll, srcs[i], pkts[i])
		}
	}
}

// oneAtATime reads a Link that has no batch reads one packet per call.
type oneAtATime struct{ l Link }

// ReadBatch implements BatchReader with one ReadFrom.
func (o oneAtATime) ReadBatch(bufs, pkts [][]byte, srcs []netip.Addr) (int, error) {
	pkt, src, err := o.l.ReadFrom(bufs[0])
	if err != nil {
		return 0, err
	}
	pkts[0], srcs[0] = pkt, src
	return 1, nil
}

// handle runs one received bundle packet through decode, the connection's
// handshake and, for data, the duplicate filter.
func (e *Engine) handle(ll *localLink, src netip.Addr, pkt []byte) {
	e.stats.rxPackets.Add(1)
	var h wire.Header
	body, err := wire.Decode(pkt, &h)
	if err != nil {
		if we, ok := err.(wire.Error); ok && int(we) < len(e.stats.malformed) {
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
	c, fresh := e.connLocked(ll, src, &h, now)
	if c == nil {
		e.mu.RUnlock()
		return
	}
	c.onReceive(now, len(pkt))
	c.remote.lastRx.Store(now)
	if c.remote.proven.Load() {
		// Only traffic from a NIC that answered our probes keeps its host
		// alive: forged packets cannot hold a departed host in the table.
		c.host.lastRx.Store(now)
	}
	if fresh {
		e.probe(c, now) // prove the new path at once rather than at the next tick
	}
	switch h.Kind {
	case wire.KindData:
		deliver := e.acceptsData(c) && e.firstCopy(c, &h, now)
		// Deliver may Send (a router relays), which read-locks again: a
		// recursive read lock can deadlock behind a waiting writer.
		e.mu.RUnlock()
		if deliver {
			e.cfg.Deliver(h.Host, body)
		}
		return
	case wire.KindProbe:
		if ep := c.host.epoch.Load(); ep != 0 && ep != probe.Epoch {
			e.challenge(c, now) // a restart, or a forgery: its answer will tell
		}
		reply := probe
		reply.Epoch = e.epoch
		e.sendProbe(c, wire.KindProbeReply, &reply, now)
	case wire.KindProbeReply:
		if c.probes.reply(probe.Seq, probe.SendTime, now) && e.acceptsProof(c, probe.Epoch) {
			e.onProven(c, probe.Epoch, now)
		}
	}
	e.mu.RUnlock()
}

// acceptsData reports whether data from c may reach the duplicate filter:
// once its host has proven paths, only NICs that answered our probes may
// deliver, so a forger cannot fill the ID window with junk. Before that
// (first contact) any path may. Called with e.mu read-locked.
func (e *Engine) acceptsData(c *conn) bool {
	if c.remote.proven.Load() || !c.host.established.Load() {
		return true
	}
	e.stats.unprovenDropped.Add(1)
	return false
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
		e.log.Info("path up", zap.String("link", c.link.name), zap.Stringer("remote", c.remote.addr),
			zap.Stringer("host", c.host.vip))
	}
	c.remote.proven.Store(true)
	c.host.lastRx.Store(now)
	if c.host.established.CompareAndSwap(false, true) {
		e.updateGateway()
		e.log.Info("host joined", zap.Stringer("host", c.host.vip), zap.Stringer("via", c.remote.addr),
			zap.Bool("gateway", c.host.gateway))
	}
	e.checkEpoch(c.host, epoch)
}

// challenge probes c at once (at most every quarter probe interval): the
// other end showed an epoch we do not know, and only its answer to our
// probe may change the epoch we hold. Called with e.mu read-locked.
func (e *Engine) challenge(c *conn, now int64) {
	last := c.challengedAt.Load()
	if now-last < int64(e.cfg.ProbeInterval)/4 || !c.challengedAt.CompareAndSwap(last, now) {
		return
	}
	e.probe(c, now)
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
		e.stats.peerRestarts.Add(1)
		e.dedup.Reset(h.vip)
		e.log.Info("peer restarted", zap.Stringer("host", h.vip))
	}
}

// connLocked finds the connection a packet came on, learning the host, the
// remote NIC and the connection when they are new and acceptable; fresh
// says the connection was just made. It is called with e.mu read-locked and
// returns with it read-locked; it takes the write lock only to learn
// something new. nil means drop the packet.
//
// A remote NIC is its host's ifindex and address together: a packet from a
// known NIC index but another address makes a new remote NIC, which must
// prove itself like any other, rather than redirecting a working path to
// whoever forged that source address.
func (e *Engine) connLocked(ll *localLink, src netip.Addr, h *wire.Header, now int64) (c *conn, fresh bool) {
	key := remoteKey{index: h.SrcIndex, addr: src}
	hs := e.hosts[h.Host]
	if hs != nil {
		if r := hs.remotes[key]; r != nil {
			if c := hs.connFor(ll, r); c != nil {
				return c, false
			}
		}
	} else if !e.peers[src] && !e.cfg.Router {
		e.stats.unknownHost.Add(1) // decided without the write lock: strangers cannot stall the engine
		return nil, false
	} else if !e.cfg.AcceptHost(h.Host) {
		return nil, false // counted by AcceptHost's owner
	}
	e.mu.RUnlock()
	defer e.mu.RLock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.links[ll.index] != ll {
		return nil, false // the link went away meanwhile
	}
	if hs = e.hosts[h.Host]; hs == nil {
		if hs = e.learnHost(h.Host, src, now); hs == nil {
			e.stats.unknownHost.Add(1)
			return nil, false
		}
	}
	r := hs.remotes[key]
	if r == nil {
		if r = e.learnRemote(hs, key, now); r == nil {
			e.stats.unknownHost.Add(1)
			return nil, false
		}
		fresh = true
	}
	if c := hs.connFor(ll, r); c != nil {
		return c, fresh
	}
	c = &conn{host: hs, link: ll, remote: r}
	hs.conns = append(hs.conns, c)
	return c, true
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
	h := &host{vip: vip, gateway: viaPeer, remotes: map[remoteKey]*remoteNIC{}}
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
// local link, within MaxRemotesPerHost: when full, the oldest NIC that never
// answered a probe goes first, else one silent past the dead interval.
// Called with e.mu write-locked.
func (e *Engine) learnRemote(hs *host, key remoteKey, now int64) *remoteNIC {
	if len(hs.remotes) >= e.cfg.MaxRemotesPerHost {
		var unproven, silent *remoteNIC
		for _, r := range hs.remotes {
			if !r.proven.Load() {
				if unproven == nil || r.lastRx.Load() < unproven.lastRx.Load() {
					unproven = r
				}
			} else if silent == nil || r.lastRx.Load() < silent.lastRx.Load() {
				silent = r
			}
		}
		victim := unproven
		if victim == nil && now-silent.lastRx.Load() >= int64(e.cfg.DeadInterval) {
			victim = silent
		}
		if victim == nil {
			return nil
		}
		hs.dropConns(func(c *conn) bool { return c.remote == victim })
		delete(hs.remotes, remoteKey{victim.index, victim.addr})
	}
	r := &remoteNIC{index: key.index, addr: key.addr}
	r.lastRx.Store(now)
	hs.remotes[key] = r
	for _, ll := range e.links {
		hs.conns = append(hs.conns, &conn{host: hs, link: ll, remote: r})
	}
	return r
}

func (e *Engine) removeHostLocked(h *host, why string) {
	delete(e.hosts, h.vip)
	e.updateGateway()
	e.dedup.Remove(h.vip)
	if h.established.Load() {
		e.log.Info("host left", zap.Stringer("host", h.vip), zap.String("why", why))
	}
}
