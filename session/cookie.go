package session

import (
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"time"

	"golang.org/x/crypto/blake2s"

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

// cookieOf returns src's cookie under the current secret, rotating the
// secret when it is CookieRefreshTime old (a mac2 made with the old cookie
// then simply fails), and a fresh nonce for a cookie reply: a random
// prefix drawn with the secret and a counter, unique without a system call
// per reply, which matters when replies answer a flood.
func (n *Node) cookieOf(src netip.AddrPort, now time.Time) (c [wire.CookieLen]byte, nonce [wire.CookieNonceLen]byte) {
	n.cookieMu.Lock()
	defer n.cookieMu.Unlock()
	if n.cookieSecretSet.IsZero() || now.Sub(n.cookieSecretSet) >= CookieRefreshTime {
		n.readRand(n.cookieSecret[:])
		n.readRand(n.cookieNonce[:16])
		n.cookieSeq = 0
		n.cookieSecretSet = now
	}
	a := addrBytes(src)
	c = mac(n.cookieSecret[:], a[:])
	nonce = n.cookieNonce
	n.cookieSeq++
	binary.BigEndian.PutUint64(nonce[16:], n.cookieSeq)
	return c, nonce
}

// checkMac2 reports whether the handshake message msg carries the mac2 of
// cookie c.
func checkMac2(msg []byte, t wire.MsgType, c *[wire.CookieLen]byte) bool {
	_, o2 := macOffsets(t)
	m := mac(c[:], msg[:o2])
	return subtle.ConstantTimeCompare(m[:], msg[o2:o2+wire.MacLen]) == 1
}

// writeCookieReply writes into dst the reply to the initiation msg (whose
// sender index is sender) carrying cookie c, encrypted under the node's
// cookie key and bound to msg's mac1.
func (n *Node) writeCookieReply(dst, msg []byte, sender uint32, c *[wire.CookieLen]byte, nonce *[wire.CookieNonceLen]byte) []byte {
	out := dst[:wire.CookieReplyLen]
	_ = wire.PutPreamble(out, wire.MsgCookieReply)
	putUint32(out[wire.CookieRecvOff:], sender)
	copy(out[wire.CookieNonceOff:], nonce[:])
	n.cookieAEAD.Seal(out[wire.CookieBoxOff:wire.CookieBoxOff], out[wire.CookieNonceOff:wire.CookieBoxOff], c[:], msg[wire.InitMac1Off:wire.InitMac2Off])
	return out
}

// cookieEntry is a cookie an initiator holds for one path.
type cookieEntry struct {
	path   Path
	cookie [wire.CookieLen]byte
	set    time.Time
}
