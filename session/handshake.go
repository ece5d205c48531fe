package session

import (
	"bytes"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/polylink/polylink/wire"
)

// handshakeState is a peer's side of the handshake, changed only under the
// peer's mu:
//
//	hsIdle ──WriteInitiation──► hsInitiationSent ──valid response──► hsIdle (keypair current)
//	   ▲                              │  │
//	   │                              │  └──WriteInitiation again (retransmit: new ephemeral, new index)
//	   └──────── crossed initiation from a peer whose key sorts higher: ours abandoned
//
// The responder side has no state between messages: a valid initiation is
// answered at once and its keypair parked as next.
type handshakeState uint8

const (
	hsIdle handshakeState = iota
	hsInitiationSent
)

// String returns "idle" or "initiation-sent".
func (s handshakeState) String() string {
	if s == hsInitiationSent {
		return "initiation-sent"
	}
	return "idle"
}

// WriteInitiation starts a handshake with p and writes the initiation into
// dst (cap ≥ wire.InitiationLen). Send the same bytes on every path, each
// copy first passed through StampMac2 for its path. A previous pending
// initiation is abandoned. It returns ErrBuffer, ErrTableFull or, for a
// peer RemovePeer dropped, ErrRemoved.
func (p *Peer) WriteInitiation(dst []byte, now time.Time) ([]byte, error) {
	if cap(dst) < wire.InitiationLen {
		return nil, ErrBuffer
	}
	n := p.node
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.removed.Load() {
		return nil, ErrRemoved
	}
	p.abandonLocked()
	idx, err := n.idx.add(n, indexEntry{peer: p})
	if err != nil {
		return nil, err
	}
	msg := dst[:wire.InitiationLen]
	_ = wire.PutPreamble(msg, wire.MsgInitiation)
	putUint32(msg[wire.InitSenderOff:], idx)
	var ts [wire.TimestampLen]byte
	putTimestamp(ts[:], now.UnixNano())
	st, err := writeMessage1(msg[wire.InitNoiseOff:wire.InitNoiseOff+wire.InitNoiseLen], n.priv, n.pub, p.pub, n.newEphemeral(), ts[:])
	if err != nil { // the peer's key is a low-order point
		n.idx.remove(idx)
		return nil, ErrHandshake
	}
	m1 := mac(p.mac1Key[:], msg[:wire.InitMac1Off])
	copy(msg[wire.InitMac1Off:], m1[:])
	clear(msg[wire.InitMac2Off:])
	p.hs, p.hsIndex, p.hsInit = hsInitiationSent, idx, st
	p.lastMac1 = m1
	p.lastSent = now
	return msg, nil
}

// abandonLocked drops a pending initiation. p.mu must be held.
func (p *Peer) abandonLocked() {
	if p.hs == hsInitiationSent {
		p.node.idx.remove(p.hsIndex)
	}
	p.hs, p.hsIndex, p.hsInit = hsIdle, 0, initiation{}
}

// StampMac2 sets the mac2 of a handshake message (initiation or response)
// we send on path: the mac of the cookie the peer gave us for that path if
// one is fresh, zero otherwise.
func (p *Peer) StampMac2(msg []byte, path Path, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stampMac2Locked(msg, path, now)
}

// stampMac2Locked is StampMac2 with p.mu held.
func (p *Peer) stampMac2Locked(msg []byte, path Path, now time.Time) {
	m, err := wire.DecodeV2(msg)
	if err != nil || m.Type != wire.MsgInitiation && m.Type != wire.MsgResponse {
		return
	}
	_, o2 := macOffsets(m.Type)
	for i := range p.cookies {
		c := &p.cookies[i]
		if c.path == path && !c.set.IsZero() && now.Sub(c.set) < CookieRefreshTime-RekeyTimeout {
			m2 := mac(c.cookie[:], msg[:o2])
			copy(msg[o2:], m2[:])
			return
		}
	}
	clear(msg[o2 : o2+wire.MacLen])
}

// consumeInitiation verifies an initiation (macs already checked) and
// writes the response into reply.
func (n *Node) consumeInitiation(msg []byte, sender uint32, from Path, now time.Time, reply []byte) (Result, error) {
	m1, err := readMessage1(msg[wire.InitNoiseOff:wire.InitNoiseOff+wire.InitNoiseLen], n.priv, n.pub)
	if err != nil {
		return Result{}, ErrHandshake
	}
	p := n.Peer(m1.remote)
	if p == nil {
		return Result{}, ErrUnknownKey
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.removed.Load() {
		return Result{}, ErrUnknownKey // removed since n.Peer found it
	}
	// A replayed initiation carries an old timestamp; a burst of fresh
	// ones from one key is limited to one per InitiationMinGap.
	if bytes.Compare(m1.payload[:], p.lastTimestamp[:]) <= 0 ||
		!p.lastConsumed.IsZero() && now.Sub(p.lastConsumed) < InitiationMinGap {
		return Result{}, ErrStaleHandshake
	}
	// Both sides initiated at once: the side whose key sorts higher keeps
	// its own initiation, the other answers it. Either way one handshake
	// completes and no keypair is left unconfirmed on both sides.
	if p.hs == hsInitiationSent && now.Sub(p.lastSent) < RekeyTimeout && bytes.Compare(n.pub[:], p.pub[:]) > 0 {
		return Result{}, ErrCrossed
	}
	idx, err := n.idx.add(n, indexEntry{peer: p})
	if err != nil {
		return Result{}, err
	}
	out := reply[:wire.ResponseLen]
	_ = wire.PutPreamble(out, wire.MsgResponse)
	putUint32(out[wire.RespSenderOff:], idx)
	putUint32(out[wire.RespReceiverOff:], sender)
	k1, k2, err := writeMessage2(out[wire.RespNoiseOff:wire.RespNoiseOff+wire.RespNoiseLen], &m1, n.newEphemeral())
	if err != nil {
		n.idx.remove(idx)
		return Result{}, ErrHandshake
	}
	m := mac(p.mac1Key[:], out[:wire.RespMac1Off])
	copy(out[wire.RespMac1Off:], m[:])
	clear(out[wire.RespMac2Off:])

	p.lastTimestamp = m1.payload
	p.lastConsumed = now
	p.abandonLocked()
	kp := newKeypair(p, k2, k1, now, false, idx, sender)
	n.idx.swap(idx, indexEntry{peer: p, kp: kp})
	p.installResponder(kp)
	p.lastHandshake = now
	p.stampMac2Locked(out, from, now)
	return Result{Type: wire.MsgInitiation, Peer: p, Reply: out}, nil
}

// consumeResponse verifies a response to our pending initiation.
func (n *Node) consumeResponse(msg []byte, hdr wire.V2, now time.Time) (Result, error) {
	e, ok := n.idx.lookup(hdr.Receiver)
	if !ok || e.kp != nil {
		return Result{}, ErrUnknownIndex
	}
	p := e.peer
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hs != hsInitiationSent || p.hsIndex != hdr.Receiver {
		return Result{}, ErrUnknownIndex
	}
	if now.Sub(p.lastSent) >= RekeyTimeout+RekeyTimeout {
		return Result{}, ErrExpired
	}
	k1, k2, err := readMessage2(msg[wire.RespNoiseOff:wire.RespNoiseOff+wire.RespNoiseLen], &p.hsInit, n.priv)
	if err != nil {
		return Result{}, ErrHandshake
	}
	kp := newKeypair(p, k1, k2, now, true, p.hsIndex, hdr.Sender)
	n.idx.swap(p.hsIndex, indexEntry{peer: p, kp: kp})
	p.hs, p.hsIndex, p.hsInit = hsIdle, 0, initiation{}
	p.installInitiator(kp)
	p.lastHandshake = now
	p.wantHandshake.Store(false)
	p.sentSinceRecv.Store(false)
	return Result{Type: wire.MsgResponse, Peer: p, HandshakeDone: true}, nil
}

// consumeCookieReply stores the cookie a responder under load sent for the
// path it came on.
func (n *Node) consumeCookieReply(msg []byte, hdr wire.V2, from Path, now time.Time) (Result, error) {
	e, ok := n.idx.lookup(hdr.Receiver)
	if !ok || e.kp != nil {
		return Result{}, ErrUnknownIndex
	}
	p := e.peer
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hs != hsInitiationSent || p.hsIndex != hdr.Receiver {
		return Result{}, ErrUnknownIndex
	}
	aead, _ := chacha20poly1305.NewX(p.cookieKey[:])
	var cookie [wire.CookieLen]byte
	nonce := msg[wire.CookieNonceOff : wire.CookieNonceOff+wire.CookieNonceLen]
	if _, err := aead.Open(cookie[:0], nonce, msg[wire.CookieBoxOff:], p.lastMac1[:]); err != nil {
		return Result{}, ErrCookie
	}
	slot, oldest := -1, 0
	for i := range p.cookies {
		if p.cookies[i].path == from {
			slot = i
			break
		}
		if p.cookies[i].set.Before(p.cookies[oldest].set) {
			oldest = i
		}
	}
	if slot < 0 {
		slot = oldest
	}
	p.cookies[slot] = cookieEntry{path: from, cookie: cookie, set: now}
	return Result{Type: wire.MsgCookieReply, Peer: p}, nil
}
