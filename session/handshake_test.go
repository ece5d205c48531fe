package session

import (
	"bytes"
	"errors"
	"testing"
)

func TestHandshakeAndTransport(t *testing.T) {
	a, b := newPair(t, Config{})
	clk := newClock()
	handshake(t, a, b, clk.now())

	// A is the initiator: it can seal at once. B's keypair is next until
	// A's first packet arrives.
	if _, err := b.peer.Seal(make([]byte, 16, 64), 4, clk.now()); !errors.Is(err, ErrNoKeypair) {
		t.Fatalf("B sealed before confirmation: %v", err)
	}
	msg := sealed(t, a.peer, []byte("hello B"), clk.now())
	r, err := open(b, msg, clk.now())
	if err != nil || string(r.Payload) != "hello B" || r.Peer != b.peer {
		t.Fatalf("B opened %q, %v", r.Payload, err)
	}
	back := sealed(t, b.peer, []byte("hello A"), clk.now())
	r, err = open(a, back, clk.now())
	if err != nil || string(r.Payload) != "hello A" {
		t.Fatalf("A opened %q, %v", r.Payload, err)
	}
	if bytes.Contains(msg, []byte("hello B")) {
		t.Fatal("plaintext visible in the sealed message")
	}
	if !b.peer.Status(clk.now()).Keyed || !a.peer.Status(clk.now()).Keyed {
		t.Fatal("status not keyed after the handshake")
	}
}

// Old key material is forgotten: keypairs after 3×RejectAfterTime, an
// unanswered initiation after RekeyAttemptTime; their indices are freed.
func TestForgetExpiredKeys(t *testing.T) {
	a, b := newPair(t, Config{})
	clk := newClock()
	handshake(t, a, b, clk.now())
	if _, err := a.peer.WriteInitiation(make([]byte, 148), clk.now()); err != nil {
		t.Fatal(err)
	}
	if n := a.node.idx.len(); n != 2 {
		t.Fatalf("A holds %d indices, want a keypair and a pending initiation", n)
	}
	a.peer.Tick(clk.now().Add(RekeyAttemptTime))
	if n := a.node.idx.len(); n != 1 || a.peer.Status(clk.now()).Handshake != "idle" {
		t.Fatalf("after RekeyAttemptTime A holds %d indices, handshake %s", n, a.peer.Status(clk.now()).Handshake)
	}
	a.peer.Tick(clk.now().Add(3 * RejectAfterTime))
	if n := a.node.idx.len(); n != 0 || a.peer.current.Load() != nil {
		t.Fatalf("after 3×RejectAfterTime A holds %d indices", n)
	}
}
