package session

import (
	"time"

	"github.com/polylink/polylink/wire"
)

// Result is what Receive learned from a message that was accepted.
type Result struct {
	Type wire.MsgType
	// Peer is the authenticated sender (nil only for a cookie demanded
	// from an unproven source). A path is learned or moved only from a
	// data or probe Result: those verified under a keypair and were not
	// replays.
	Peer *Peer
	// Payload is the opened plaintext of a data or probe message, inside
	// the caller's msg (no copy). Empty data is a keepalive.
	Payload []byte
	// Counter is the transport message's counter (unique per keypair).
	Counter uint64
	// Reply, when set, is a handshake response or cookie reply inside the
	// caller's reply buffer: send it once, back on the path the message
	// came from, and nowhere else.
	Reply []byte
	// CookieSent: the node is under load and the initiation had no valid
	// mac2; Reply is a cookie reply and no DH was done.
	CookieSent bool
	// HandshakeDone: our initiation was answered and a new keypair is
	// current; seal something (a probe on every path) now so the
	// responder starts using it too.
	HandshakeDone bool
}

// ReplyBufferLen is the size of the reply buffer Receive needs.
const ReplyBufferLen = wire.ResponseLen

// Receive handles one version 2 message from path at now. msg is the
// message after the outer IP (or UDP) header; a data or probe message is
// opened in place. reply must have cap ≥ ReplyBufferLen. On error the
// message is dropped: count it by reason (Error indexes an array), never
// answer it. Data and probes allocate nothing.
func (n *Node) Receive(msg []byte, from Path, now time.Time, reply []byte) (Result, error) {
	hdr, err := wire.DecodeV2(msg)
	if err != nil {
		return Result{}, ErrMalformed
	}
	switch hdr.Type {
	case wire.MsgData, wire.MsgProbe:
		return n.openTransport(msg, hdr, now)
	case wire.MsgCookieReply:
		return n.consumeCookieReply(msg, hdr, from, now)
	}
	// Initiation or response: mac1 before anything else, then, under
	// load, a cookie.
	if cap(reply) < ReplyBufferLen {
		return Result{}, ErrBuffer
	}
	if !checkMac1(msg, &n.mac1Key, hdr.Type) {
		return Result{}, ErrMac1
	}
	if n.lim.observe(now) {
		// A response is accepted only for one of our pending initiation
		// indices, so it needs no cookie (its sender could not use one:
		// responses are not retransmitted); under load it is only rate
		// limited per source.
		if hdr.Type == wire.MsgInitiation {
			// A zero mac2 (no cookie yet) skips the cookie hash when the
			// reply budget is spent: the flood's cheapest path.
			noMac2 := isZero(msg[wire.InitMac2Off:])
			if noMac2 && !n.lim.allowReply(now) {
				return Result{}, ErrRateLimited
			}
			c, nonce := n.cookieOf(from.Remote, now)
			if noMac2 || !checkMac2(msg, hdr.Type, &c) {
				if !noMac2 && !n.lim.allowReply(now) {
					return Result{}, ErrRateLimited
				}
				out := n.writeCookieReply(reply, msg, hdr.Sender, &c, &nonce)
				return Result{Type: hdr.Type, Reply: out, CookieSent: true}, nil
			}
		}
		if !n.lim.allow(from.Remote.Addr(), now) {
			return Result{}, ErrRateLimited
		}
	}
	if hdr.Type == wire.MsgInitiation {
		return n.consumeInitiation(msg, hdr.Sender, from, now, reply)
	}
	return n.consumeResponse(msg, hdr, now)
}
