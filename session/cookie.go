package session

import (
	"crypto/subtle"
	"net/netip"
	"time"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/polylink/polylink/wire"
)

// Handshake messages carry two macs (WireGuard's construction):
//
//	mac1 = MAC(HASH("mac1----" || responder public key), msg[:mac1 offset])
//	mac2 = MAC(cookie, msg[:mac2 offset]), or zero without a cookie
//	cookie = MAC(secret, source address || port), secret random, rotated every 2 min
//
// MAC is keyed BLAKE2s-128. mac1 is checked before any Diffie-Hellman, so
// a sender that does not know our public key costs one hash. Under load a
// valid mac2 is required too: without one the sender gets a cookie reply
// (64 bytes for its 148: one smaller packet back, never more) carrying the
// cookie encrypted with XChaCha20-Poly1305 under HASH("cookie--" || responder
// public key), bound to the initiation's mac1 as additional data. Only a
// sender that receives at its source address can then produce mac2, so
// forged sources never reach the DH.
const (
	labelMac1   = "mac1----"
	labelCookie = "cookie--"
)

func labelledKey(label string, pub PublicKey) (k [32]byte) {
	d, _ := blake2s.New256(nil)
	d.Write([]byte(label))
	d.Write(pub[:])
	d.Sum(k[:0])
	return k
}

func mac(key []byte, parts ...[]byte) (m [wire.MacLen]byte) {
	d, _ := blake2s.New128(key)
	for _, p := range parts {
		d.Write(p)
	}
	d.Sum(m[:0])
	return m
}

// macOffsets returns where mac1 and mac2 sit in a handshake message.
func macOffsets(t wire.MsgType) (mac1, mac2 int) {
	if t == wire.MsgInitiation {
		return wire.InitMac1Off, wire.InitMac2Off
	}
	return wire.RespMac1Off, wire.RespMac2Off
}

func checkMac1(msg []byte, key *[32]byte, t wire.MsgType) bool {
	o1, o2 := macOffsets(t)
	m := mac(key[:], msg[:o1])
	return subtle.ConstantTimeCompare(m[:], msg[o1:o2]) == 1
}

func addrBytes(src netip.AddrPort) (b [18]byte) {
	a := src.Addr().As16()
	copy(b[:], a[:])
	b[16], b[17] = byte(src.Port()>>8), byte(src.Port())
	return b
}

// cookieFor computes the cookie of src under the node's current secret.
// n.cookieMu must be held.
func (n *Node) cookieFor(src netip.AddrPort) [wire.CookieLen]byte {
	a := addrBytes(src)
	return mac(n.cookieSecret[:], a[:])
}

// rotateCookieSecret refreshes the secret when it is older than
// CookieRefreshTime. n.cookieMu must be held.
func (n *Node) rotateCookieSecret(now time.Time) {
	if n.cookieSecretSet.IsZero() || now.Sub(n.cookieSecretSet) >= CookieRefreshTime {
		n.readRand(n.cookieSecret[:])
		n.cookieSecretSet = now
	}
}

// checkMac2 reports whether msg carries the mac2 of src's current cookie.
func (n *Node) checkMac2(msg []byte, t wire.MsgType, src netip.AddrPort, now time.Time) bool {
	n.cookieMu.Lock()
	defer n.cookieMu.Unlock()
	if n.cookieSecretSet.IsZero() || now.Sub(n.cookieSecretSet) >= CookieRefreshTime {
		return false
	}
	c := n.cookieFor(src)
	_, o2 := macOffsets(t)
	m := mac(c[:], msg[:o2])
	return subtle.ConstantTimeCompare(m[:], msg[o2:o2+wire.MacLen]) == 1
}

// writeCookieReply writes a cookie reply to msg (a handshake message from
// src whose sender index is sender) into dst.
func (n *Node) writeCookieReply(dst, msg []byte, t wire.MsgType, sender uint32, src netip.AddrPort, now time.Time) []byte {
	n.cookieMu.Lock()
	n.rotateCookieSecret(now)
	c := n.cookieFor(src)
	n.cookieMu.Unlock()

	out := dst[:wire.CookieReplyLen]
	_ = wire.PutPreamble(out, wire.MsgCookieReply)
	putUint32(out[wire.CookieRecvOff:], sender)
	nonce := out[wire.CookieNonceOff : wire.CookieNonceOff+wire.CookieNonceLen]
	n.readRand(nonce)
	o1, o2 := macOffsets(t)
	aead, _ := chacha20poly1305.NewX(n.cookieKey[:])
	aead.Seal(out[wire.CookieBoxOff:wire.CookieBoxOff], nonce, c[:], msg[o1:o2])
	return out
}

// cookieEntry is a cookie an initiator holds for one path.
type cookieEntry struct {
	path   Path
	cookie [wire.CookieLen]byte
	set    time.Time
}
