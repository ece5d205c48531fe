package session

import (
	"bytes"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// FuzzReceive feeds a keyed node (with a live keypair and a pending
// initiation, so every index kind exists) arbitrary messages: never a
// panic, never an accepted forgery, never growth of the index table, and
// the real traffic still flows afterwards.
func FuzzReceive(f *testing.F) {
	a, b := newPair(f, Config{})
	now := time.Unix(1_800_000_000, 0)
	handshake(f, a, b, now)
	real := sealed(f, a.peer, []byte("seed"), now)
	init, _ := a.peer.WriteInitiation(make([]byte, wire.InitiationLen), now)
	f.Add(append([]byte(nil), real...))
	f.Add(append([]byte(nil), init...))
	f.Add(make([]byte, wire.ResponseLen))
	f.Add(make([]byte, wire.CookieReplyLen))
	tables := b.node.idx.len()
	reply := make([]byte, ReplyBufferLen)
	f.Fuzz(func(t *testing.T, msg []byte) {
		verbatim := bytes.Equal(msg, real)
		r, err := b.node.Receive(msg, b.path, now, reply)
		if err == nil && r.Reply == nil && !verbatim {
			// Only a verbatim copy of a message we sealed may verify.
			t.Fatalf("fuzzed message accepted: %+v", r)
		}
		if _, ok := err.(Error); err != nil && !ok {
			t.Fatalf("error %T %v", err, err)
		}
		if b.node.idx.len() > tables+1 {
			t.Fatalf("index table grew to %d", b.node.idx.len())
		}
		m := sealed(t, a.peer, []byte("after"), now)
		if r, err := b.node.Receive(m, b.path, now, reply); err != nil || string(r.Payload) != "after" {
			t.Fatalf("real traffic refused after a fuzzed message: %v", err)
		}
	})
}
