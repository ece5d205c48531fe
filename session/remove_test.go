package session

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// A removed key, attacking: with keypairs B had agreed before the removal
// and a fresh initiation, A gets nothing delivered and grows no state.
func TestRemovePeerRefusesTheOldKey(t *testing.T) {
	a, b := newPair(t, Config{})
	clk := newClock()
	handshake(t, a, b, clk.now())
	m := sealed(t, a.peer, []byte("before"), clk.now())
	if _, err := open(b, m, clk.now()); err != nil {
		t.Fatalf("before removal: %v", err)
	}
	// A second handshake, so B holds two keypairs of A (current and next).
	init, _ := a.peer.WriteInitiation(make([]byte, wire.InitiationLen), clk.now().Add(time.Second))
	r, err := b.node.Receive(init, b.path, clk.now().Add(time.Second), make([]byte, ReplyBufferLen))
	if err != nil || r.Reply == nil {
		t.Fatalf("second initiation: %v", err)
	}
	queued := sealed(t, a.peer, []byte("queued"), clk.now()) // under the first keypair, not yet delivered
	if b.node.idx.len() < 2 {
		t.Fatalf("B holds %d indices of A, want 2", b.node.idx.len())
	}

	if !b.node.RemovePeer(a.node.PublicKey()) || b.node.RemovePeer(a.node.PublicKey()) {
		t.Fatal("RemovePeer: want true once, then false")
	}
	if n := b.node.idx.len(); n != 0 {
		t.Fatalf("%d receiver indices left after RemovePeer", n)
	}
	if b.node.Peer(a.node.PublicKey()) != nil || b.node.Lookup(a.vip) != nil || len(b.node.Peers()) != 0 {
		t.Fatal("removed peer still found by key or address")
	}
	if b.peer.Allows(a.vip) {
		t.Fatal("removed peer still covers its address")
	}

	clk.advance(time.Second)
	for i, msg := range [][]byte{queued, m, sealed(t, a.peer, []byte("after"), clk.now())} {
		if r, err := open(b, msg, clk.now()); !errors.Is(err, ErrUnknownIndex) || r.Payload != nil {
			t.Fatalf("transport message %d from the removed key: %v, payload %q", i, err, r.Payload)
		}
	}
	// A fresh initiation (new timestamp, new ephemeral) from the key.
	for i := range 3 {
		clk.advance(time.Second)
		init, err := a.peer.WriteInitiation(make([]byte, wire.InitiationLen), clk.now())
		if err != nil {
			t.Fatal(err)
		}
		r, err := b.node.Receive(init, b.path, clk.now(), make([]byte, ReplyBufferLen))
		if !errors.Is(err, ErrUnknownKey) || r.Reply != nil {
			t.Fatalf("initiation %d from the removed key: %v, reply %d bytes", i, err, len(r.Reply))
		}
	}
	if n := b.node.idx.len(); n != 0 {
		t.Fatalf("the removed key's initiations grew the index table to %d", n)
	}
	// The old *Peer is inert.
	if _, err := b.peer.WriteInitiation(make([]byte, wire.InitiationLen), clk.now()); !errors.Is(err, ErrRemoved) {
		t.Fatalf("WriteInitiation on a removed peer: %v", err)
	}
	if b.peer.Tick(clk.now()) {
		t.Fatal("Tick asks a removed peer for a handshake")
	}
	buf := make([]byte, wire.TransportHeaderLen+4, wire.TransportHeaderLen+4+wire.TagLen)
	if _, err := b.peer.Seal(buf, wire.MsgData, clk.now()); !errors.Is(err, ErrNoKeypair) {
		t.Fatalf("Seal on a removed peer: %v", err)
	}

	// Allowed again, the key is a new peer and must handshake afresh.
	pa, err := b.node.AddPeer(a.node.PublicKey(), netip.PrefixFrom(a.vip, 32))
	if err != nil {
		t.Fatal(err)
	}
	b.peer = pa
	clk.advance(time.Second)
	handshake(t, a, b, clk.now())
	if r, err := open(b, sealed(t, a.peer, []byte("back"), clk.now()), clk.now()); err != nil || string(r.Payload) != "back" {
		t.Fatalf("re-added peer: %v %q", err, r.Payload)
	}
}

// Removing a peer leaves the others' sessions as they were.
func TestRemovePeerKeepsOthers(t *testing.T) {
	a, b := newPair(t, Config{})
	clk := newClock()
	handshake(t, a, b, clk.now())
	// C, a third host B allows.
	c := &side{vip: netip.MustParseAddr("198.19.0.4"), path: a.path}
	var err error
	if c.node, err = NewNode(Config{PrivateKey: mustKey(t)}); err != nil {
		t.Fatal(err)
	}
	if c.peer, err = c.node.AddPeer(b.node.PublicKey(), netip.PrefixFrom(b.vip, 32)); err != nil {
		t.Fatal(err)
	}
	bc, err := b.node.AddPeer(c.node.PublicKey(), netip.PrefixFrom(c.vip, 32))
	if err != nil {
		t.Fatal(err)
	}
	handshake(t, c, &side{node: b.node, peer: bc, path: b.path}, clk.now())
	b.node.RemovePeer(c.node.PublicKey())
	if r, err := open(b, sealed(t, a.peer, []byte("a"), clk.now()), clk.now()); err != nil || r.Peer != b.peer {
		t.Fatalf("A after C's removal: %v", err)
	}
	if !b.peer.Status(clk.now()).Keyed {
		t.Fatal("A's session on B lost its keypair")
	}
}

// SetAllowed moves a peer's prefixes and keeps its sessions.
func TestSetAllowedKeepsSessions(t *testing.T) {
	a, b := newPair(t, Config{})
	clk := newClock()
	handshake(t, a, b, clk.now())
	moved := netip.MustParseAddr("198.19.0.9")
	relayed := netip.MustParsePrefix("198.19.50.0/24")
	if err := b.node.SetAllowed(a.node.PublicKey(), netip.PrefixFrom(moved, 32), relayed); err != nil {
		t.Fatal(err)
	}
	if b.peer.Allows(a.vip) || !b.peer.Allows(moved) || !b.peer.Allows(netip.MustParseAddr("198.19.50.7")) {
		t.Fatalf("after SetAllowed the key covers %v", b.peer.Allowed())
	}
	if b.node.Lookup(a.vip) != nil || b.node.Lookup(moved) != b.peer {
		t.Fatal("Lookup does not follow SetAllowed")
	}
	// Its session goes on: the same keypair opens the next message.
	if r, err := open(b, sealed(t, a.peer, []byte("x"), clk.now()), clk.now()); err != nil || r.Peer != b.peer {
		t.Fatalf("after SetAllowed: %v", err)
	}
	// A prefix another key holds is refused and nothing changes.
	pc, err := b.node.AddPeer(mustKey(t).PublicKey(), netip.MustParsePrefix("198.19.0.4/32"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.node.SetAllowed(a.node.PublicKey(), netip.MustParsePrefix("198.19.0.4/32")); err == nil {
		t.Fatal("SetAllowed took a prefix another key holds")
	}
	if !b.peer.Allows(moved) || b.node.Lookup(netip.MustParseAddr("198.19.0.4")) != pc {
		t.Fatal("a refused SetAllowed changed something")
	}
	if err := b.node.SetAllowed(mustKey(t).PublicKey()); err == nil {
		t.Fatal("SetAllowed of an unknown key accepted")
	}
}

// RemovePeer while two receivers open a stream from the peer and another
// seals: no panic, no race (-race), and nothing opens once it returned.
func TestRemovePeerConcurrentReceive(t *testing.T) {
	a, b := newPair(t, Config{})
	start := time.Unix(1_800_000_000, 0)
	handshake(t, a, b, start)
	const total = 20000
	msgs := make(chan []byte, 256)
	go func() {
		defer close(msgs)
		for i := range total {
			buf := make([]byte, wire.TransportHeaderLen+8, wire.TransportHeaderLen+8+wire.TagLen)
			binary.BigEndian.PutUint64(buf[wire.TransportHeaderLen:], uint64(i))
			m, err := a.peer.Seal(buf, wire.MsgData, start)
			if err != nil {
				t.Error(err)
				return
			}
			msgs <- m
		}
	}()
	var removed atomic.Bool
	var opened, afterRemoval atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			reply := make([]byte, ReplyBufferLen)
			for m := range msgs {
				wasRemoved := removed.Load()
				_, err := b.node.Receive(m, b.path, start, reply)
				switch {
				case err == nil && wasRemoved:
					afterRemoval.Add(1)
				case err == nil:
					opened.Add(1)
				case !errors.Is(err, ErrUnknownIndex):
					t.Error(err)
				}
			}
		})
	}
	for deadline := time.Now().Add(20 * time.Second); opened.Load() < 2000; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("stream did not start")
		}
	}
	b.node.RemovePeer(a.node.PublicKey())
	removed.Store(true)
	wg.Wait()
	if afterRemoval.Load() != 0 || b.node.idx.len() != 0 {
		t.Fatalf("%d opened after RemovePeer returned, %d indices left", afterRemoval.Load(), b.node.idx.len())
	}
	t.Logf("%d of %d opened before the removal", opened.Load(), total)
}
