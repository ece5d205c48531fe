package session

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polylink/polylink/wire"
)

// Peer is one allowed remote host: its key, the addresses the key covers,
// its handshake and its keypairs. Peers are made by Node.AddPeer.
//
// Keypairs move through three slots (WireGuard's rotation):
//
//	responder: handshake ──► next ──(first packet verified under it)──► current
//	initiator: handshake ──────────(response verified)─────────────────► current
//	current ──(replaced)──► previous ──(replaced)──► dropped (index freed)
//
// Seal always uses current. Receive accepts current, previous and next, so
// packets in flight under the old keypair are still delivered after a
// rekey: a running stream loses nothing.
type Peer struct {
	node      *Node
	pub       PublicKey
	allowed   atomic.Pointer[[]netip.Prefix] // replaced whole (SetAllowed), never changed in place
	mac1Key   [32]byte                       // mac1 of what we send to this peer
	cookieKey [32]byte                       // opens this peer's cookie replies

	// The keypair slots are read lock-free on the packet path and written
	// only under mu.
	current, previous, next atomic.Pointer[keypair]

	wantHandshake atomic.Bool // Seal found no usable keypair
	removed       atomic.Bool // RemovePeer ran: nothing may install or use key material any more
	sentSinceRecv atomic.Bool // Seal ran since the last verified receive

	mu            sync.Mutex
	hs            handshakeState             // guarded by mu
	hsIndex       uint32                     // pending initiation's index, guarded by mu
	hsInit        initiation                 // guarded by mu
	lastMac1      [wire.MacLen]byte          // of the last initiation sent, guarded by mu
	lastSent      time.Time                  // last initiation written, guarded by mu
	lastTimestamp [wire.TimestampLen]byte    // greatest initiation timestamp consumed, guarded by mu
	lastConsumed  time.Time                  // guarded by mu
	lastHandshake time.Time                  // guarded by mu
	cookies       [cookieJarSize]cookieEntry // guarded by mu
}

func newPeer(n *Node, pub PublicKey) *Peer {
	p := &Peer{
		node:      n,
		pub:       pub,
		mac1Key:   labelledKey(labelMac1, pub),
		cookieKey: labelledKey(labelCookie, pub),
	}
	p.allowed.Store(&[]netip.Prefix{})
	return p
}

// PublicKey returns the peer's key.
func (p *Peer) PublicKey() PublicKey { return p.pub }

// Allowed returns the prefixes the peer's key covers.
func (p *Peer) Allowed() []netip.Prefix { return append([]netip.Prefix(nil), *p.allowed.Load()...) }

// Allows reports whether src is covered by the peer's key: the receive
// side's cryptokey routing. An inner packet whose source it does not allow
// is dropped, whatever key opened it. As in WireGuard the longest prefix
// decides: a key covering 0.0.0.0/0 (a gateway) does not speak for an
// address another peer's narrower prefix owns.
func (p *Peer) Allows(src netip.Addr) bool {
	for _, pfx := range *p.allowed.Load() {
		if pfx.IsSingleIP() && pfx.Addr() == src {
			return true // nothing is longer: no lock on the common path
		}
	}
	return p.node.Lookup(src) == p
}

// Status is a peer's state for `polylink status`.
type Status struct {
	PublicKey     PublicKey
	Keyed         bool      // a keypair can seal now
	LastHandshake time.Time // zero: never
	Handshake     string    // the handshake state's name
}

// Status returns the peer's state at now.
func (p *Peer) Status(now time.Time) Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	kp := p.current.Load()
	return Status{
		PublicKey:     p.pub,
		Keyed:         kp != nil && !kp.expired(now),
		LastHandshake: p.lastHandshake,
		Handshake:     p.hs.String(),
	}
}

// installInitiator makes kp, from a response to our initiation, current.
// p.mu must be held.
func (p *Peer) installInitiator(kp *keypair) {
	idx := &p.node.idx
	if nx := p.next.Swap(nil); nx != nil {
		idx.remove(nx.localIndex)
	}
	if old := p.previous.Swap(p.current.Load()); old != nil {
		idx.remove(old.localIndex)
	}
	p.current.Store(kp)
}

// installResponder parks kp, from an initiation we answered, as next: we
// seal with it only once the initiator has used it. p.mu must be held.
func (p *Peer) installResponder(kp *keypair) {
	if old := p.next.Swap(kp); old != nil {
		p.node.idx.remove(old.localIndex)
	}
}

// confirm promotes next to current after a packet verified under it.
func (p *Peer) confirm(kp *keypair) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next.Load() != kp || p.removed.Load() {
		return // another receiver confirmed it first, or the peer is gone
	}
	if old := p.previous.Swap(p.current.Load()); old != nil {
		p.node.idx.remove(old.localIndex)
	}
	p.current.Store(kp)
	p.next.Store(nil)
	p.wantHandshake.Store(false)
}
