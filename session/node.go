package session

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/polylink/polylink/wire"
)

// Path names one end-to-end path as the caller knows it: its own id of the
// local end (a NIC index, a socket id) and the remote endpoint. Receive
// uses Remote as the source address of cookies and rate limits; an
// initiator keeps one cookie per Path.
type Path struct {
	Local  uint32
	Remote netip.AddrPort
}

// Node is this host's keyed identity: its static key, the allowed peers
// (public key → the virtual addresses the key covers), the table of
// receiver indices, and the cookie and rate-limit state that protect the
// handshake. Make one with NewNode; all methods are safe for concurrent
// use. A Node does no I/O and reads no clock: callers pass now.
type Node struct {
	priv        PrivateKey
	pub         PublicKey
	rekeyAfter  uint64
	rejectAfter uint64
	silence     time.Duration

	randMu sync.Mutex
	rand   io.Reader // guarded by randMu

	mac1Key   [32]byte // checks mac1 of what we receive
	cookieKey [32]byte // encrypts our cookie replies

	cookieAEAD cipher.AEAD // XChaCha20-Poly1305 under cookieKey; immutable

	cookieMu        sync.Mutex
	cookieSecret    [32]byte                  // guarded by cookieMu
	cookieSecretSet time.Time                 // guarded by cookieMu
	cookieNonce     [wire.CookieNonceLen]byte // random prefix, guarded by cookieMu
	cookieSeq       uint64                    // guarded by cookieMu

	lim limiter
	idx indexTable

	mu       sync.RWMutex
	maxPeers int
	peers    map[PublicKey]*Peer  // guarded by mu
	exact    map[netip.Addr]*Peer // single-address allowed prefixes, guarded by mu
	wider    []prefixPeer         // other allowed prefixes, guarded by mu
}

type prefixPeer struct {
	prefix netip.Prefix
	peer   *Peer
}

// NewNode returns a node with cfg's key and limits and no peers.
func NewNode(cfg Config) (*Node, error) {
	if cfg.PrivateKey.IsZero() {
		return nil, errors.New("session: no private key")
	}
	n := &Node{
		priv:        cfg.PrivateKey,
		pub:         cfg.PrivateKey.PublicKey(),
		rand:        cfg.Rand,
		rekeyAfter:  cfg.RekeyAfterMessages,
		rejectAfter: cfg.RejectAfterMessages,
		maxPeers:    cfg.MaxPeers,
		peers:       make(map[PublicKey]*Peer),
		exact:       make(map[netip.Addr]*Peer),
	}
	if n.rand == nil {
		n.rand = rand.Reader
	}
	if n.rekeyAfter == 0 {
		n.rekeyAfter = DefaultRekeyAfter
	}
	if n.rejectAfter == 0 || n.rejectAfter > DefaultRejectAfter {
		n.rejectAfter = DefaultRejectAfter
	}
	if n.maxPeers <= 0 {
		n.maxPeers = DefaultMaxPeers
	}
	load, replies := cfg.LoadPerSecond, cfg.CookieRepliesPerSecond
	if load <= 0 {
		load = DefaultLoadPerSec
	}
	if replies <= 0 {
		replies = DefaultCookieRepliesPerSec
	}
	n.silence = cfg.SilenceRekey
	if n.silence <= 0 {
		n.silence = KeepaliveTimeout + RekeyTimeout
	}
	n.lim.init(load, replies)
	n.idx.init(4 * n.maxPeers)
	n.mac1Key = labelledKey(labelMac1, n.pub)
	n.cookieKey = labelledKey(labelCookie, n.pub)
	n.cookieAEAD, _ = chacha20poly1305.NewX(n.cookieKey[:])
	return n, nil
}

// PublicKey returns the node's public key.
func (n *Node) PublicKey() PublicKey { return n.pub }

// AddPeer allows the holder of pub to join, covering the virtual addresses
// in allowed (a host: its own /32; a router node: what it relays). It
// refuses our own key, a key already added, and a prefix another peer
// already holds, so one address is never covered by two keys.
func (n *Node) AddPeer(pub PublicKey, allowed ...netip.Prefix) (*Peer, error) {
	if pub.IsZero() {
		return nil, errors.New("session: add peer: zero public key")
	}
	if pub.Equal(n.pub) {
		return nil, errors.New("session: add peer: that is this node's own key")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.peers[pub]; dup {
		return nil, fmt.Errorf("session: add peer %s: already added", pub.Short())
	}
	if len(n.peers) >= n.maxPeers {
		return nil, fmt.Errorf("session: add peer %s: %d peers is the limit", pub.Short(), n.maxPeers)
	}
	p := newPeer(n, pub)
	list, err := n.checkPrefixesLocked(p, allowed)
	if err != nil {
		return nil, fmt.Errorf("session: add peer %s: %w", pub.Short(), err)
	}
	n.bindLocked(p, list)
	n.peers[pub] = p
	return p, nil
}

// owner returns the peer holding exactly pfx. n.mu must be held.
func (n *Node) owner(pfx netip.Prefix) *Peer {
	if pfx.IsSingleIP() {
		return n.exact[pfx.Addr()]
	}
	for _, w := range n.wider {
		if w.prefix == pfx {
			return w.peer
		}
	}
	return nil
}

// Peer returns the peer with key pub, or nil.
func (n *Node) Peer(pub PublicKey) *Peer {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.peers[pub]
}

// Lookup returns the peer whose allowed prefixes cover addr, the longest
// prefix winning, or nil: the send side's cryptokey routing.
func (n *Node) Lookup(addr netip.Addr) *Peer {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if p := n.exact[addr]; p != nil {
		return p
	}
	var best *Peer
	bits := -1
	for _, w := range n.wider {
		if w.prefix.Bits() > bits && w.prefix.Contains(addr) {
			best, bits = w.peer, w.prefix.Bits()
		}
	}
	return best
}

// Peers returns the allowed peers, in no particular order.
func (n *Node) Peers() []*Peer {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Peer, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, p)
	}
	return out
}

// readRand fills b from the node's random source. crypto/rand does not
// fail on Linux; a failing injected reader is a programming error.
func (n *Node) readRand(b []byte) {
	n.randMu.Lock()
	defer n.randMu.Unlock()
	if _, err := io.ReadFull(n.rand, b); err != nil {
		panic("session: random source failed: " + err.Error())
	}
}

func (n *Node) newEphemeral() PrivateKey {
	var k PrivateKey
	n.readRand(k[:])
	k.clamp()
	return k
}

func putUint32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }
func getUint32(b []byte) uint32    { return binary.BigEndian.Uint32(b) }
