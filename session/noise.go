package session

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"hash"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"

	"github.com/polylink/polylink/wire"
)

// This file is the Noise IK pattern (Noise_IK_25519_ChaChaPoly_BLAKE2s,
// revision 34 of the Noise specification) on golang.org/x/crypto
// primitives, as WireGuard builds it: the symmetric state is a value (two
// 32-byte arrays), so a message that fails to verify never changes the
// state it was checked against. noise_test.go checks it message for message
// against github.com/flynn/noise.
//
//	IK:
//	  <- s
//	  ...
//	  -> e, es, s, ss     (payload: 12-byte timestamp)
//	  <- e, ee, se        (payload: empty)

// protocolName is the Noise protocol name; prologue binds the handshake to
// polylink's wire v2, so a Noise message of another protocol never verifies.
const (
	protocolName = "Noise_IK_25519_ChaChaPoly_BLAKE2s"
	prologue     = "polylink wire v2"
)

var errDecrypt = errors.New("noise: message does not verify")

// symmetricState is Noise's SymmetricState. A zero cipher key is never used:
// every EncryptAndHash in IK follows a MixKey.
type symmetricState struct {
	ck [blake2s.Size]byte // chaining key
	h  [blake2s.Size]byte // handshake hash
	k  [chacha20poly1305.KeySize]byte
}

// initialState is the state after InitializeSymmetric(protocolName),
// MixHash(prologue) and the pre-message MixHash(responder static).
func initialState(responder PublicKey) symmetricState {
	var s symmetricState
	s.h = blake2s.Sum256([]byte(protocolName)) // longer than 32 bytes: hashed
	s.ck = s.h
	s.mixHash([]byte(prologue))
	s.mixHash(responder[:])
	return s
}

func (s *symmetricState) mixHash(data []byte) {
	d, _ := blake2s.New256(nil)
	d.Write(s.h[:])
	d.Write(data)
	d.Sum(s.h[:0])
}

func newBlake2s() hash.Hash { d, _ := blake2s.New256(nil); return d }

// hkdf2 is Noise's HKDF(ck, ikm, 2) with HMAC-BLAKE2s.
func hkdf2(ck *[32]byte, ikm []byte) (out1, out2 [32]byte) {
	m := hmac.New(newBlake2s, ck[:])
	m.Write(ikm)
	var prk [32]byte
	m.Sum(prk[:0])
	m = hmac.New(newBlake2s, prk[:])
	m.Write([]byte{1})
	m.Sum(out1[:0])
	m.Reset()
	m.Write(out1[:])
	m.Write([]byte{2})
	m.Sum(out2[:0])
	return out1, out2
}

func (s *symmetricState) mixKey(ikm []byte) {
	s.ck, s.k = hkdf2(&s.ck, ikm)
}

// encryptAndHash appends the encryption of p (nonce 0: every key here
// encrypts exactly once) to dst.
func (s *symmetricState) encryptAndHash(dst, p []byte) []byte {
	aead, _ := chacha20poly1305.New(s.k[:])
	var nonce [chacha20poly1305.NonceSize]byte
	out := aead.Seal(dst, nonce[:], p, s.h[:])
	s.mixHash(out[len(dst):])
	return out
}

func (s *symmetricState) decryptAndHash(dst, c []byte) ([]byte, error) {
	aead, _ := chacha20poly1305.New(s.k[:])
	var nonce [chacha20poly1305.NonceSize]byte
	out, err := aead.Open(dst, nonce[:], c, s.h[:])
	if err != nil {
		return nil, errDecrypt
	}
	s.mixHash(c)
	return out, nil
}

// split returns the initiator's sending key and the responder's.
func (s *symmetricState) split() (initToResp, respToInit [32]byte) {
	return hkdf2(&s.ck, nil)
}

func dh(priv PrivateKey, pub []byte) ([]byte, error) {
	out, err := curve25519.X25519(priv[:], pub)
	if err != nil { // low-order point: all-zero shared secret
		return nil, errDecrypt
	}
	return out, nil
}

// initiation is the initiator's state between message 1 and message 2.
type initiation struct {
	ss        symmetricState
	ephemeral PrivateKey
}

// writeMessage1 writes e, es, s, ss, payload into dst[:InitNoiseLen] (which
// must be that long) and returns the state to read message 2 with.
func writeMessage1(dst []byte, local PrivateKey, localPub, remote PublicKey, eph PrivateKey, payload []byte) (initiation, error) {
	ss := initialState(remote)
	epub := eph.PublicKey()
	ss.mixHash(epub[:])
	shared, err := dh(eph, remote[:])
	if err != nil {
		return initiation{}, err
	}
	ss.mixKey(shared)
	out := append(dst[:0], epub[:]...)
	out = ss.encryptAndHash(out, localPub[:])
	shared, err = dh(local, remote[:])
	if err != nil {
		return initiation{}, err
	}
	ss.mixKey(shared)
	ss.encryptAndHash(out, payload)
	return initiation{ss: ss, ephemeral: eph}, nil
}

// message1 is what the responder learns from message 1.
type message1 struct {
	ss        symmetricState
	remoteEph [KeyLen]byte
	remote    PublicKey
	payload   [wire.TimestampLen]byte
}

// readMessage1 verifies message 1 (len(msg) == 48+32+len(payload)+16) for
// the responder with static key local.
func readMessage1(msg []byte, local PrivateKey, localPub PublicKey) (message1, error) {
	var m message1
	if len(msg) != 32+48+wire.TimestampLen+16 {
		return m, errDecrypt
	}
	ss := initialState(localPub)
	copy(m.remoteEph[:], msg[:32])
	ss.mixHash(m.remoteEph[:])
	shared, err := dh(local, m.remoteEph[:])
	if err != nil {
		return m, err
	}
	ss.mixKey(shared)
	var static [KeyLen]byte
	if _, err := ss.decryptAndHash(static[:0], msg[32:80]); err != nil {
		return m, err
	}
	m.remote = PublicKey(static)
	shared, err = dh(local, static[:])
	if err != nil {
		return m, err
	}
	ss.mixKey(shared)
	if _, err := ss.decryptAndHash(m.payload[:0], msg[80:]); err != nil {
		return m, err
	}
	m.ss = ss
	return m, nil
}

// writeMessage2 writes e, ee, se, empty payload into dst (RespNoiseLen)
// and returns the transport keys (initiator→responder, responder→initiator).
func writeMessage2(dst []byte, m *message1, eph PrivateKey) (k1, k2 [32]byte, err error) {
	ss := m.ss
	epub := eph.PublicKey()
	ss.mixHash(epub[:])
	shared, err := dh(eph, m.remoteEph[:])
	if err != nil {
		return k1, k2, err
	}
	ss.mixKey(shared)
	shared, err = dh(eph, m.remote[:])
	if err != nil {
		return k1, k2, err
	}
	ss.mixKey(shared)
	out := append(dst[:0], epub[:]...)
	ss.encryptAndHash(out, nil)
	k1, k2 = ss.split()
	return k1, k2, nil
}

// readMessage2 verifies message 2 against the initiator's state, which it
// does not change, and returns the transport keys.
func readMessage2(msg []byte, st *initiation, local PrivateKey) (k1, k2 [32]byte, err error) {
	if len(msg) != 32+16 {
		return k1, k2, errDecrypt
	}
	ss := st.ss // a copy: a forged message 2 leaves st as it was
	ss.mixHash(msg[:32])
	shared, err := dh(st.ephemeral, msg[:32])
	if err != nil {
		return k1, k2, err
	}
	ss.mixKey(shared)
	shared, err = dh(local, msg[:32])
	if err != nil {
		return k1, k2, err
	}
	ss.mixKey(shared)
	var empty [0]byte
	if _, err := ss.decryptAndHash(empty[:0], msg[32:]); err != nil {
		return k1, k2, err
	}
	k1, k2 = ss.split()
	return k1, k2, nil
}

// putTimestamp writes the initiation payload: wall-clock seconds (64) and
// nanoseconds (32), big-endian, so later initiations compare greater.
func putTimestamp(b []byte, unixNano int64) {
	binary.BigEndian.PutUint64(b[0:8], uint64(unixNano/1e9))
	binary.BigEndian.PutUint32(b[8:12], uint32(unixNano%1e9))
}
