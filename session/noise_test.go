package session

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/flynn/noise"
)

// The handshake is Noise IK as specified, not a look-alike: each side of
// ours completes a handshake with github.com/flynn/noise's other side and
// both derive the same transport keys.

var flynnSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

func flynnKey(k PrivateKey) noise.DHKey {
	pub := k.PublicKey()
	return noise.DHKey{Private: append([]byte(nil), k[:]...), Public: pub[:]}
}

func TestNoiseInitiatorAgainstFlynn(t *testing.T) {
	ka, kb := mustKey(t), mustKey(t)
	ts := []byte("timestamp-12")
	msg1 := make([]byte, 108)
	st, err := writeMessage1(msg1, ka, ka.PublicKey(), kb.PublicKey(), mustKey(t), ts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: flynnSuite, Random: rand.Reader, Pattern: noise.HandshakeIK,
		Prologue: []byte(prologue), StaticKeypair: flynnKey(kb),
	})
	if err != nil {
		t.Fatal(err)
	}
	payload, _, _, err := resp.ReadMessage(nil, msg1)
	if err != nil || !bytes.Equal(payload, ts) {
		t.Fatalf("flynn responder read our message 1: %q, %v", payload, err)
	}
	if pa := ka.PublicKey(); !bytes.Equal(resp.PeerStatic(), pa[:]) {
		t.Fatal("flynn responder learned another initiator key")
	}
	msg2, cs1, cs2, err := resp.WriteMessage(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	k1, k2, err := readMessage2(msg2, &st, ka)
	if err != nil {
		t.Fatalf("we refused flynn's message 2: %v", err)
	}
	if k1 != cs1.UnsafeKey() || k2 != cs2.UnsafeKey() {
		t.Fatal("transport keys differ from flynn's")
	}
}

func TestNoiseResponderAgainstFlynn(t *testing.T) {
	ka, kb := mustKey(t), mustKey(t)
	pb := kb.PublicKey()
	init, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: flynnSuite, Random: rand.Reader, Pattern: noise.HandshakeIK, Initiator: true,
		Prologue: []byte(prologue), StaticKeypair: flynnKey(ka), PeerStatic: pb[:],
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := []byte("timestamp-12")
	msg1, _, _, err := init.WriteMessage(nil, ts)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := readMessage1(msg1, kb, pb)
	if err != nil {
		t.Fatalf("we refused flynn's message 1: %v", err)
	}
	if !bytes.Equal(m1.payload[:], ts) || m1.remote != ka.PublicKey() {
		t.Fatal("wrong payload or initiator key from flynn's message 1")
	}
	msg2 := make([]byte, 48)
	k1, k2, err := writeMessage2(msg2, &m1, mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	_, cs1, cs2, err := init.ReadMessage(nil, msg2)
	if err != nil {
		t.Fatalf("flynn initiator refused our message 2: %v", err)
	}
	if k1 != cs1.UnsafeKey() || k2 != cs2.UnsafeKey() {
		t.Fatal("transport keys differ from flynn's")
	}
}

// A forged message 2 leaves the initiator's state as it was: the real one
// still completes afterwards.
func TestNoiseForgedMessage2LeavesState(t *testing.T) {
	ka, kb := mustKey(t), mustKey(t)
	msg1 := make([]byte, 108)
	st, err := writeMessage1(msg1, ka, ka.PublicKey(), kb.PublicKey(), mustKey(t), []byte("timestamp-12"))
	if err != nil {
		t.Fatal(err)
	}
	m1, err := readMessage1(msg1, kb, kb.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	msg2 := make([]byte, 48)
	if _, _, err := writeMessage2(msg2, &m1, mustKey(t)); err != nil {
		t.Fatal(err)
	}
	forged := append([]byte(nil), msg2...)
	forged[40] ^= 1
	if _, _, err := readMessage2(forged, &st, ka); err == nil {
		t.Fatal("forged message 2 accepted")
	}
	if _, _, err := readMessage2(msg2, &st, ka); err != nil {
		t.Fatalf("real message 2 refused after a forged one: %v", err)
	}
}
