package session

import (
	"time"

	"github.com/polylink/polylink/wire"
)

// Transport messages: seal and open in place, no allocation.
//
//	send:    msg = [16 bytes room | plaintext | 16 bytes spare capacity]
//	         Seal writes the header (receiver index, counter), encrypts the
//	         plaintext in place and appends the tag.
//	receive: Receive looks the receiver index up (→ keypair → peer), checks
//	         the counter against the replay window, opens in place, and
//	         only then marks the counter seen.
//
// The AEAD nonce is the header's last 12 bytes (receiver index, counter):
// unique for every message under one key because the counter never
// repeats (atomic increment, stopped before it could wrap). The whole
// header is the additional data, so the type, index and counter are all
// authenticated.

// Seal seals the transport message in msg as p's next message of type t
// (wire.MsgData, wire.MsgProbe): msg[:wire.TransportHeaderLen] is room for
// the header, msg[wire.TransportHeaderLen:] the plaintext, and cap(msg)
// must leave wire.TagLen more. It returns msg extended by the tag. It
// returns ErrNoKeypair or ErrExhausted when no keypair can seal (a
// handshake is then wanted; Tick says so), ErrBuffer for a short buffer.
//
// Seal a data packet once and send the same bytes on every path: every
// copy then has one counter, and the receiver's replay window keeps exactly
// the first. Seal a probe once per path (it carries the path's identity).
func (p *Peer) Seal(msg []byte, t wire.MsgType, now time.Time) ([]byte, error) {
	if len(msg) < wire.TransportHeaderLen || cap(msg)-len(msg) < wire.TagLen {
		return nil, ErrBuffer
	}
	kp := p.current.Load()
	if kp == nil || kp.expired(now) {
		p.wantHandshake.Store(true)
		return nil, ErrNoKeypair
	}
	n := p.node
	c := kp.sendCounter.Add(1) - 1
	if c >= n.rejectAfter {
		// Pin the counter so that no number of further calls can wrap it
		// back to a used nonce.
		kp.sendCounter.Store(n.rejectAfter)
		p.wantHandshake.Store(true)
		return nil, ErrExhausted
	}
	if c >= n.rekeyAfter || kp.initiator && now.Sub(kp.created) >= RekeyAfterTime {
		p.wantHandshake.Store(true)
	}
	if err := wire.PutTransportHeader(msg, t, kp.remoteIndex, c); err != nil {
		return nil, err
	}
	if !p.sentSinceRecv.Load() {
		p.sentSinceRecv.Store(true)
	}
	hdr := msg[:wire.TransportHeaderLen]
	out := kp.send.Seal(msg[wire.TransportHeaderLen:wire.TransportHeaderLen], hdr[4:], msg[wire.TransportHeaderLen:], hdr)
	return msg[:wire.TransportHeaderLen+len(out)], nil
}

// openTransport verifies and decrypts a data or probe message in place.
func (n *Node) openTransport(msg []byte, hdr wire.V2, now time.Time) (Result, error) {
	e, ok := n.idx.lookup(hdr.Receiver)
	if !ok || e.kp == nil {
		return Result{}, ErrUnknownIndex
	}
	kp, p := e.kp, e.peer
	if hdr.Counter >= n.rejectAfter || kp.expired(now) {
		return Result{}, ErrExpired
	}
	kp.mu.Lock()
	v := kp.window.check(hdr.Counter)
	kp.mu.Unlock()
	if err := verdictErr(v); err != nil {
		return Result{}, err
	}
	h := msg[:wire.TransportHeaderLen]
	plain, err := kp.recv.Open(msg[wire.TransportHeaderLen:wire.TransportHeaderLen], h[4:], msg[wire.TransportHeaderLen:], h)
	if err != nil {
		return Result{}, ErrTag
	}
	kp.mu.Lock()
	v = kp.window.accept(hdr.Counter)
	if v == replayNew {
		kp.lastRecv = now
	}
	kp.mu.Unlock()
	if err := verdictErr(v); err != nil {
		return Result{}, err
	}
	if p.removed.Load() {
		// RemovePeer ran after the lookup: refused like its indices now are.
		return Result{}, ErrUnknownIndex
	}
	if p.sentSinceRecv.Load() {
		p.sentSinceRecv.Store(false)
	}
	if p.next.Load() == kp {
		p.confirm(kp)
	}
	return Result{Type: hdr.Type, Peer: p, Payload: plain, Counter: hdr.Counter}, nil
}

func verdictErr(v replayVerdict) error {
	switch v {
	case replayDuplicate:
		return ErrDuplicate
	case replayTooOld:
		return ErrTooOld
	}
	return nil
}
