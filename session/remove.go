package session

import (
	"errors"
	"fmt"
	"net/netip"
)

// Changing the allowed peers of a running node (polylink's SIGHUP reload):
// a peer is added (AddPeer), removed (RemovePeer) or given other prefixes
// (SetAllowed) while packets are being received. The peer table and the
// prefix index change under n.mu; a removed peer's key material goes under
// p.mu, which every path that installs key material holds and which then
// finds the peer marked removed. A receiver that looked an index up just
// before the removal is refused by the removed mark after opening, so no
// packet is accepted from a peer once RemovePeer has returned.

// RemovePeer forgets the peer with key pub: its allowed prefixes, its
// pending handshake, its keypairs and every receiver index that named
// them. Messages to those indices are then refused as ErrUnknownIndex,
// like any unknown index, and an initiation from the key as ErrUnknownKey;
// Seal, WriteInitiation and Tick on the old *Peer do nothing useful. It
// reports whether the key was a peer. Adding the key again makes a new
// peer, which must handshake afresh.
func (n *Node) RemovePeer(pub PublicKey) bool {
	n.mu.Lock()
	p := n.peers[pub]
	if p != nil {
		delete(n.peers, pub)
		n.unbindLocked(p)
	}
	n.mu.Unlock()
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removed.Store(true)
	p.abandonLocked()
	p.current.Store(nil)
	p.previous.Store(nil)
	p.next.Store(nil)
	// Every index of p, whichever slot or handshake it belonged to: none
	// can be added any more (p.mu is held and p is marked removed).
	n.idx.removePeer(p)
	return true
}

// SetAllowed replaces the prefixes the key pub covers, keeping the peer's
// sessions: a host moved to another virtual address, or a router node's
// relayed prefixes changed with the routes. It refuses an unknown key and
// a prefix another peer holds, and then changes nothing.
func (n *Node) SetAllowed(pub PublicKey, allowed ...netip.Prefix) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[pub]
	if p == nil {
		return fmt.Errorf("session: set allowed %s: not a peer", pub.Short())
	}
	list, err := n.checkPrefixesLocked(p, allowed)
	if err != nil {
		return fmt.Errorf("session: set allowed %s: %w", pub.Short(), err)
	}
	n.unbindLocked(p)
	n.bindLocked(p, list)
	return nil
}

// MaxPeers is the most peers the node holds (Config.MaxPeers).
func (n *Node) MaxPeers() int { return n.maxPeers }

// checkPrefixesLocked returns allowed masked, or an error if one is
// invalid or held by a peer other than p. n.mu must be held.
func (n *Node) checkPrefixesLocked(p *Peer, allowed []netip.Prefix) ([]netip.Prefix, error) {
	list := make([]netip.Prefix, 0, len(allowed))
	for _, pfx := range allowed {
		pfx = pfx.Masked()
		if !pfx.IsValid() {
			return nil, errors.New("invalid prefix")
		}
		if other := n.owner(pfx); other != nil && other != p {
			return nil, fmt.Errorf("%s is already allowed for %s", pfx, other.pub.Short())
		}
		list = append(list, pfx)
	}
	return list, nil
}

// bindLocked makes list p's prefixes and indexes them. n.mu must be held
// and p's old prefixes unbound.
func (n *Node) bindLocked(p *Peer, list []netip.Prefix) {
	for _, pfx := range list {
		if pfx.IsSingleIP() {
			n.exact[pfx.Addr()] = p
		} else {
			n.wider = append(n.wider, prefixPeer{pfx, p})
		}
	}
	p.allowed.Store(&list)
}

// unbindLocked drops p's prefixes from the index. n.mu must be held.
func (n *Node) unbindLocked(p *Peer) {
	for _, pfx := range *p.allowed.Load() {
		if pfx.IsSingleIP() && n.exact[pfx.Addr()] == p {
			delete(n.exact, pfx.Addr())
		}
	}
	kept := n.wider[:0]
	for _, w := range n.wider {
		if w.peer != p {
			kept = append(kept, w)
		}
	}
	clear(n.wider[len(kept):])
	n.wider = kept
	p.allowed.Store(&[]netip.Prefix{})
}

// removePeer drops every entry naming p.
func (t *indexTable) removePeer(p *Peer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, e := range t.m {
		if e.peer == p {
			delete(t.m, i)
		}
	}
}
