package aggregator

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polylink/polylink/session"
	"github.com/polylink/polylink/wire"
)

// Keyed mode (Config.Keyed): every packet is a wire v2 message of package
// session, and nothing else is accepted. The engine keeps its hosts,
// connections, probes and proof as in keyless mode; what changes is where
// trust comes from (docs/keyed-protocol.md):
//
//	receive: v1 ─▶ dropped (keyless_dropped): no keyless side door
//	         v2 ─▶ session.Node.Receive (mac1, cookie, tag, replay window)
//	            ─▶ handshake reply: once, back on the path it came from
//	            ─▶ probe: the key must own the Host it names; only then is
//	               the host or path learned (keyedconn.go); reply sealed
//	            ─▶ data: the replay window already dropped every copy but
//	               the first (exact dedup); inner source must be covered
//	               by the key that opened it; Deliver
//	send:    data sealed ONCE, the same bytes on every carrying connection;
//	         probes sealed per connection; handshakes on every path at once
//	timer:   session.Peer.Tick per peer; initiations to --peer addresses
//	         until the gateway's key is known (keyedconn.go)
//	reload:  SetKeyed swaps the allowed keys (keyedreload.go)
type Keyed struct {
	// Node is this node's key and its allowed peers.
	Node *session.Node
	// Gateway is the peer reached through Config.Peers (--peer-key): its
	// virtual address is learned from its first sealed probe. nil: none.
	Gateway *session.Peer
	// Hosts binds each allowed peer (--allow PUB=VIP) to its own virtual
	// address: the only address its probes may claim.
	Hosts map[*session.Peer]netip.Addr
	// SilenceRekey is passed on to session.Config by the caller; kept here
	// for status only.
	SilenceRekey time.Duration
}

// keyedState is the engine's keyed-mode state.
type keyedState struct {
	node   *session.Node
	set    atomic.Pointer[keyedSet] // the allowed keys; replaced whole by SetKeyed
	retry  int64                    // ns between initiations to the gateway while it has no keypair
	errs   [session.NumErrors]atomic.Uint64
	stats  keyedCounters
	replyB sync.Pool // *[session.ReplyBufferLen]byte for handshake replies
}

// keyedSet is the engine's view of the allowed keys. It is never changed
// once published: the receive path reads it lock-free, and a reload
// (SetKeyed) publishes a new one under Engine.mu's write lock, so readers
// holding Engine.mu see one set for the whole of their work.
type keyedSet struct {
	peers map[*session.Peer]*keyedPeer
	byKey []*keyedPeer // the same, for iteration
	gw    *keyedPeer   // nil: no --peer-key
}

// keyedCounters are keyed mode's own drops.
type keyedCounters struct {
	keyless     atomic.Uint64 // wire v1 packets on a keyed node
	notCovered  atomic.Uint64 // inner source not covered by the key that opened it
	wrongHost   atomic.Uint64 // sealed probe naming a host its key does not own
	noHostYet   atomic.Uint64 // data from a key whose host no probe has named yet
	sealFailed  atomic.Uint64 // Seal refused (no keypair yet, exhausted)
	initiations atomic.Uint64 // handshake initiations sent (copies)
	replies     atomic.Uint64 // handshake responses and cookie replies sent
}

// keyedPeer is one allowed key and the host it speaks for.
type keyedPeer struct {
	peer     *session.Peer
	gateway  bool
	vip      atomic.Pointer[netip.Addr] // fixed for --allow, learned for the gateway
	lastInit atomic.Int64               // engine clock of our last initiation
}

func newKeyedState(k *Keyed, probe time.Duration) *keyedState {
	ks := &keyedState{node: k.Node, retry: int64(max(5*probe, 250*time.Millisecond))}
	ks.replyB.New = func() any { return new([session.ReplyBufferLen]byte) }
	ks.set.Store(newKeyedSet(nil, k.Hosts, k.Gateway))
	return ks
}

// newKeyedSet makes the set for hosts and gateway, reusing the keyedPeer
// of old (nil at start) for a key whose role is unchanged: the same
// virtual address for an --allow key, the gateway role for the gateway's.
func newKeyedSet(old *keyedSet, hosts map[*session.Peer]netip.Addr, gateway *session.Peer) *keyedSet {
	ks := &keyedSet{peers: map[*session.Peer]*keyedPeer{}}
	add := func(p *session.Peer, vip netip.Addr) *keyedPeer {
		if kp := ks.peers[p]; kp != nil {
			return kp
		}
		kp := old.reusable(p, vip)
		if kp == nil {
			kp = &keyedPeer{peer: p}
			if vip.IsValid() {
				kp.vip.Store(&vip)
			}
		}
		ks.peers[p] = kp
		ks.byKey = append(ks.byKey, kp)
		return kp
	}
	for p, vip := range hosts {
		add(p, vip)
	}
	if gateway != nil {
		ks.gw = add(gateway, netip.Addr{})
		ks.gw.gateway = true
	}
	return ks
}

// reusable returns old's keyedPeer for p if it keeps its role: bound to
// vip (an --allow key), or the gateway (vip invalid); nil otherwise.
func (old *keyedSet) reusable(p *session.Peer, vip netip.Addr) *keyedPeer {
	if old == nil {
		return nil
	}
	kp := old.peers[p]
	switch {
	case kp == nil:
		return nil
	case !vip.IsValid():
		if kp.gateway {
			return kp
		}
	case !kp.gateway && kp.vip.Load() != nil && *kp.vip.Load() == vip:
		return kp
	}
	return nil
}

// handleKeyed is handle for a keyed node. It allocates nothing for data and
// probes.
func (e *Engine) handleKeyed(ll *localLink, src netip.AddrPort, pkt []byte, outerTOS uint8) {
	ks := e.keyed
	if v, err := wire.BundleVersion(pkt); err != nil || v != wire.Version2 {
		ks.stats.keyless.Add(1)
		return
	}
	hdr, err := wire.DecodeV2(pkt)
	if err != nil {
		ks.errs[session.ErrMalformed].Add(1)
		return
	}
	var reply []byte
	if hdr.Type == wire.MsgInitiation || hdr.Type == wire.MsgResponse {
		rb := ks.replyB.Get().(*[session.ReplyBufferLen]byte)
		defer ks.replyB.Put(rb)
		reply = rb[:0]
	}
	path := session.Path{Local: uint32(ll.index), Remote: src}
	r, err := ks.node.Receive(pkt, path, time.Now(), reply)
	if err != nil {
		if se, ok := err.(session.Error); ok && se < session.NumErrors {
			if se == session.ErrDuplicate {
				e.stats.duplicatesDropped.Add(1) // the normal fate of every copy after the first
				return
			}
			ks.errs[se].Add(1)
		}
		return
	}
	if r.Reply != nil {
		// One packet back, on the path the message came from only.
		e.sendRaw(ll, nil, src, r.Reply, 0)
		ks.stats.replies.Add(1)
	}
	kp := ks.set.Load().peers[r.Peer]
	if kp == nil {
		return // a cookie reply, or a handshake that taught us nothing to act on
	}
	if r.HandshakeDone {
		e.keyedHandshakeDone(kp)
	}
	switch r.Type {
	case wire.MsgData:
		e.keyedData(ll, src, kp, r.Payload, len(pkt), outerTOS)
	case wire.MsgProbe:
		e.keyedProbe(ll, src, kp, r.Payload, len(pkt))
	}
}

// keyedData delivers the first (and only) copy of a data packet that
// verified under kp's key, carrying a CE mark of its outer header (outerTOS)
// into it (decapECN).
func (e *Engine) keyedData(ll *localLink, src netip.AddrPort, kp *keyedPeer, inner []byte, n int, outerTOS uint8) {
	ks := e.keyed
	vp := kp.vip.Load()
	if vp == nil {
		ks.stats.noHostYet.Add(1)
		return
	}
	if len(inner) == 0 {
		return // keepalive
	}
	if len(inner) < 20 || !kp.peer.Allows(netip.AddrFrom4([4]byte(inner[12:16]))) {
		ks.stats.notCovered.Add(1)
		return
	}
	now := e.now()
	e.mu.RLock()
	h := e.hosts[*vp]
	if h == nil || h.kp != kp {
		e.mu.RUnlock()
		ks.stats.noHostYet.Add(1)
		return
	}
	if c := h.connByAddr(ll, src); c != nil {
		c.onReceive(now, n)
		c.remote.lastRx.Store(now)
		c.firstWins.Add(1)
		if c.remote.proven.Load() {
			h.lastRx.Store(now)
		}
	}
	h.rxData.Add(1)
	e.stats.delivered.Add(1)
	// Deliver may Send (a router relays), which read-locks again.
	e.mu.RUnlock()
	if e.decapECN(inner, outerTOS) {
		e.cfg.Deliver(*vp, inner)
	}
}

// keyedProbe handles a sealed probe or probe reply from kp's key.
func (e *Engine) keyedProbe(ll *localLink, src netip.AddrPort, kp *keyedPeer, body []byte, n int) {
	var p wire.ProbeV2
	if wire.DecodeProbeV2(body, &p) != nil {
		e.keyed.errs[session.ErrMalformed].Add(1)
		return
	}
	if !e.keyedOwns(kp, p.Host) {
		e.keyed.stats.wrongHost.Add(1)
		return
	}
	if p.DstPath != 0 && p.DstPath != uint32(ll.index) {
		e.stats.misdirected.Add(1) // meant for another NIC of ours
		return
	}
	now := e.now()
	e.mu.RLock()
	defer e.mu.RUnlock()
	c := e.keyedConnLocked(ll, src, kp, p.Host, p.SrcPath, now)
	if c == nil {
		return
	}
	c.onReceive(now, n)
	c.remote.lastRx.Store(now)
	if c.remote.proven.Load() {
		c.host.lastRx.Store(now)
	}
	if p.Metered || c.remote.meteredUntil.Load() != 0 {
		e.applyNICInfo(c, p.Metered, now)
	}
	if !p.Reply {
		// Answer every verified probe once; prove an unproven path with a
		// probe of ours (rate limited per connection).
		e.sealProbe(c, &wire.ProbeV2{Reply: true, Seq: p.Seq, SendTime: p.SendTime}, now)
		e.challenge(c, now)
		return
	}
	if p.Seq != 0 && c.probes.reply(p.Seq, int64(p.SendTime), now) {
		e.onProven(c, keyedEpoch, now)
		return
	}
	e.challenge(c, now)
}

// keyedEpoch stands for the peer's epoch in keyed mode: a restart is a new
// handshake with a fresh replay window, so no epoch is needed.
const keyedEpoch = 1

// keyedOwns reports whether kp's key may speak as host vip: an allowed
// host's key only as its own address; the gateway's key as the first
// address it names that is a valid host and that no other key owns.
func (e *Engine) keyedOwns(kp *keyedPeer, vip netip.Addr) bool {
	if vp := kp.vip.Load(); vp != nil {
		return *vp == vip
	}
	return e.learnGatewayVIP(kp, vip)
}

// learnGatewayVIP binds the gateway's key to vip if it may own it. Apart
// from keyedOwns so that only this once-per-key path puts an address on
// the heap.
func (e *Engine) learnGatewayVIP(kp *keyedPeer, vip netip.Addr) bool {
	if !vip.Is4() || vip == e.cfg.VIP || e.keyed.node.Lookup(vip) != kp.peer || !e.cfg.AcceptHost(vip) {
		return false
	}
	kp.vip.CompareAndSwap(nil, &vip)
	return *kp.vip.Load() == vip
}

// sealProbe seals probe p for c's path (our ends filled in) and sends it.
// Called with e.mu read-locked.
func (e *Engine) sealProbe(c *conn, p *wire.ProbeV2, now int64) {
	kp := c.host.kp
	if kp == nil {
		return
	}
	p.State = uint8(c.state(now, e.dead))
	p.SrcPath, p.DstPath, p.Host = uint32(c.link.index), c.remote.index, e.cfg.VIP
	p.Metered = c.link.metered.Load() // keyed mode's NIC info: every probe says it
	e.sealProbeTo(c.link, c, c.remote.addr, kp, p)
}

// sealProbeTo seals p under kp's keypair and sends it on ll to dst.
func (e *Engine) sealProbeTo(ll *localLink, c *conn, dst netip.AddrPort, kp *keyedPeer, p *wire.ProbeV2) {
	b := bufPool.Get().(*packetBuf)
	msg := b[:wire.TransportHeaderLen+wire.ProbeV2Len]
	_ = p.Encode(msg[wire.TransportHeaderLen:])
	out, err := kp.peer.Seal(msg, wire.MsgProbe, time.Now())
	if err != nil {
		bufPool.Put(b)
		e.keyed.stats.sealFailed.Add(1)
		return
	}
	e.stats.probesSent.Add(1)
	e.transmit(ll, c, b, len(out), dst, 0)
}

// sealData seals inner packet pkt for host h once, into a pooled buffer
// the caller returns; every copy of the packet carries the same sealed
// bytes, so the receiver's replay window keeps exactly the first to arrive.
// Called with e.mu read-locked.
func (e *Engine) sealData(h *host, pkt []byte) (*packetBuf, []byte, error) {
	b := bufPool.Get().(*packetBuf)
	n := copy(b[wire.TransportHeaderLen:bufSize], pkt)
	msg, err := h.kp.peer.Seal(b[:wire.TransportHeaderLen+n], wire.MsgData, time.Now())
	if err != nil {
		bufPool.Put(b)
		e.keyed.stats.sealFailed.Add(1)
		return nil, nil, err
	}
	return b, msg, nil
}

// sendRaw copies msg into a transmit buffer and sends it on ll to dst with
// outer TOS tos.
func (e *Engine) sendRaw(ll *localLink, c *conn, dst netip.AddrPort, msg []byte, tos uint8) {
	b := bufPool.Get().(*packetBuf)
	n := copy(b[:], msg)
	e.transmit(ll, c, b, n, dst, tos)
}

// transmit sends b[:n] on ll to dst with outer TOS tos, or queues it; it
// owns b from here. A link removed meanwhile takes nothing.
func (e *Engine) transmit(ll *localLink, c *conn, b *packetBuf, n int, dst netip.AddrPort, tos uint8) {
	if ll.removed.Load() {
		bufPool.Put(b)
		return
	}
	e.enqueueBuf(ll, c, dst, b, n, tos)
}

// connByAddr returns the connection over ll to the NIC of h at addr, or
// nil. Called with Engine.mu held.
func (h *host) connByAddr(ll *localLink, addr netip.AddrPort) *conn {
	for _, c := range h.conns {
		if c.link == ll && c.remote.addr == addr {
			return c
		}
	}
	return nil
}
