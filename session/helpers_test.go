package session

import (
	"crypto/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// clock is a fake clock: tests move it by hand.
type clock struct{ t time.Time }

func newClock() *clock                   { return &clock{t: time.Unix(1_800_000_000, 0)} }
func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// side is one end of an in-memory pair.
type side struct {
	node *Node
	peer *Peer // the other side, as this side knows it
	vip  netip.Addr
	path Path // the path this side receives on
}

func mustKey(t testing.TB) PrivateKey {
	t.Helper()
	k, err := GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newPair returns A (198.19.0.2) and B (198.19.0.3), each allowing the other.
func newPair(t testing.TB, cfg Config) (a, b *side) {
	t.Helper()
	ka, kb := mustKey(t), mustKey(t)
	ca, cb := cfg, cfg
	ca.PrivateKey, cb.PrivateKey = ka, kb
	na, err := NewNode(ca)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := NewNode(cb)
	if err != nil {
		t.Fatal(err)
	}
	a = &side{node: na, vip: netip.MustParseAddr("198.19.0.2"), path: Path{1, netip.MustParseAddrPort("198.18.0.3:0")}}
	b = &side{node: nb, vip: netip.MustParseAddr("198.19.0.3"), path: Path{1, netip.MustParseAddrPort("198.18.0.2:0")}}
	if a.peer, err = na.AddPeer(nb.PublicKey(), netip.PrefixFrom(b.vip, 32)); err != nil {
		t.Fatal(err)
	}
	if b.peer, err = nb.AddPeer(na.PublicKey(), netip.PrefixFrom(a.vip, 32)); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// handshake runs A's initiation through B and the response back to A.
func handshake(t testing.TB, a, b *side, now time.Time) {
	t.Helper()
	init, err := a.peer.WriteInitiation(make([]byte, wire.InitiationLen), now)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.node.Receive(init, b.path, now, make([]byte, ReplyBufferLen))
	if err != nil || r.Reply == nil || r.Peer != b.peer {
		t.Fatalf("B refused A's initiation: %v %+v", err, r)
	}
	r2, err := a.node.Receive(r.Reply, a.path, now, make([]byte, ReplyBufferLen))
	if err != nil || !r2.HandshakeDone || r2.Peer != a.peer {
		t.Fatalf("A refused B's response: %v %+v", err, r2)
	}
}

// sealed returns a sealed data message carrying payload.
func sealed(t testing.TB, p *Peer, payload []byte, now time.Time) []byte {
	t.Helper()
	buf := make([]byte, wire.TransportHeaderLen+len(payload), wire.TransportHeaderLen+len(payload)+wire.TagLen)
	copy(buf[wire.TransportHeaderLen:], payload)
	msg, err := p.Seal(buf, wire.MsgData, now)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	return msg
}

// open delivers a copy of msg to s and returns the result.
func open(s *side, msg []byte, now time.Time) (Result, error) {
	c := append([]byte(nil), msg...)
	return s.node.Receive(c, s.path, now, make([]byte, ReplyBufferLen))
}
