package session

import (
	"encoding/hex"
	"strings"
	"testing"
)

// RFC 7748 §6.1: Alice's key pair.
func TestPublicKeyRFC7748(t *testing.T) {
	var k PrivateKey
	hex.Decode(k[:], []byte("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	pub := k.PublicKey()
	if got := hex.EncodeToString(pub[:]); got != "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" {
		t.Fatalf("public key %s", got)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	k := mustKey(t)
	if k[0]&7 != 0 || k[31]&128 != 0 || k[31]&64 == 0 {
		t.Fatal("generated key not clamped")
	}
	s := k.Base64()
	if len(s) != 44 {
		t.Fatalf("base64 %q is %d characters, want 44 like wg", s, len(s))
	}
	k2, err := ParsePrivateKey(s)
	if err != nil || k2 != k {
		t.Fatalf("parse private: %v", err)
	}
	pub := k.PublicKey()
	p2, err := ParsePublicKey(pub.String())
	if err != nil || p2 != pub || !p2.Equal(pub) {
		t.Fatalf("parse public: %v", err)
	}
	if sh := pub.Short(); !strings.HasPrefix(pub.String(), strings.TrimSuffix(sh, "…")) || len([]rune(sh)) != 9 {
		t.Fatalf("short form %q", sh)
	}
	if strings.Contains(k.String(), s[:8]) {
		t.Fatal("PrivateKey.String leaks the key")
	}
}

func TestParseKeyErrors(t *testing.T) {
	for i, s := range []string{
		"", "abc", "not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!!!",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", // 33 bytes
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",     // zero key
	} {
		if _, err := ParsePublicKey(s); err == nil {
			t.Errorf("case %d: public %q accepted", i, s)
		}
		if _, err := ParsePrivateKey(s); err == nil {
			t.Errorf("case %d: private %q accepted", i, s)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("case %d: error is not one line: %q", i, err)
		}
	}
}
