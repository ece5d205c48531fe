package session

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
)

// KeyLen is the length of a Curve25519 key.
const KeyLen = 32

// PrivateKey is a node's Curve25519 private key, clamped. Its zero value is
// not a key (IsZero); make one with GeneratePrivateKey or ParsePrivateKey.
type PrivateKey [KeyLen]byte

// PublicKey is a node's Curve25519 public key. Its zero value is not a key.
type PublicKey [KeyLen]byte

// GeneratePrivateKey reads 32 bytes from rand (crypto/rand.Reader in
// production) and clamps them as X25519 requires.
func GeneratePrivateKey(rand io.Reader) (PrivateKey, error) {
	var k PrivateKey
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return PrivateKey{}, fmt.Errorf("generate private key: %w", err)
	}
	k.clamp()
	return k, nil
}

func (k *PrivateKey) clamp() {
	k[0] &= 248
	k[31] = k[31]&127 | 64
}

// PublicKey derives the public key of k.
func (k PrivateKey) PublicKey() PublicKey {
	var p PublicKey
	pub, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil { // only for a low-order input, impossible with the base point
		panic("session: X25519 with the base point failed: " + err.Error())
	}
	copy(p[:], pub)
	return p
}

// IsZero reports whether k is the zero value.
func (k PrivateKey) IsZero() bool { return isZero(k[:]) }

// IsZero reports whether k is the zero value.
func (k PublicKey) IsZero() bool { return isZero(k[:]) }

// isZero reports whether b (at most KeyLen bytes) is all zero, in
// constant time.
func isZero(b []byte) bool {
	var zero [KeyLen]byte
	return subtle.ConstantTimeCompare(b, zero[:len(b)]) == 1
}

// Base64 returns k in standard base64, the format of `wg genkey` and of
// `polylink genkey`. It is deliberately not String: a private key never
// reaches a log through %v.
func (k PrivateKey) Base64() string { return base64.StdEncoding.EncodeToString(k[:]) }

// String returns a placeholder, never the key.
func (k PrivateKey) String() string { return "(private key)" }

// String returns k in standard base64, as `wg pubkey` prints it.
func (k PublicKey) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// Short returns the first 8 base64 characters of k followed by "…", enough
// to tell keys apart in status output.
func (k PublicKey) Short() string { return k.String()[:8] + "…" }

// Equal reports whether k and o are the same key, in constant time.
func (k PublicKey) Equal(o PublicKey) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// ErrKeyFormat is returned (wrapped) for a key that is not 32 bytes of
// standard base64.
var ErrKeyFormat = errors.New("a key is 44 characters of base64 (32 bytes), as printed by 'polylink genkey'")

func parseKey(s string) ([KeyLen]byte, error) {
	var k [KeyLen]byte
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != KeyLen {
		return k, ErrKeyFormat
	}
	copy(k[:], b)
	return k, nil
}

// ParsePrivateKey parses a base64 private key (surrounding white space
// removed by the caller). A key that is not clamped is clamped, as X25519
// would do anyway; the zero key is refused.
func ParsePrivateKey(s string) (PrivateKey, error) {
	b, err := parseKey(s)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("private key: %w", err)
	}
	k := PrivateKey(b)
	if k.IsZero() {
		return PrivateKey{}, fmt.Errorf("private key: the zero key is not a key")
	}
	k.clamp()
	return k, nil
}

// ParsePublicKey parses a base64 public key; the zero key is refused.
func ParsePublicKey(s string) (PublicKey, error) {
	b, err := parseKey(s)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key %q: %w", s, err)
	}
	k := PublicKey(b)
	if k.IsZero() {
		return PublicKey{}, fmt.Errorf("public key %q: the zero key is not a key", s)
	}
	return k, nil
}
