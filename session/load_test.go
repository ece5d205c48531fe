package session

import (
	"crypto/rand"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// Under load an initiation needs the cookie of its source: a forged
// source gets one cookie reply (smaller than what it sent) and no DH; the
// real host fetches the cookie and gets in.
func TestCookieUnderLoad(t *testing.T) {
	a, b := newPair(t, Config{LoadPerSecond: 2})
	clk := newClock()
	reply := make([]byte, ReplyBufferLen)
	// Push B over its load threshold with initiations from a stranger who
	// knows B's public key (so mac1 is right).
	nc, _ := NewNode(Config{PrivateKey: mustKey(t)})
	pc, _ := nc.AddPeer(b.node.PublicKey())
	before := b.node.idx.len()
	forged := netip.MustParseAddrPort("198.18.9.9:0")
	cookies := 0
	m0, _ := pc.WriteInitiation(make([]byte, wire.InitiationLen), clk.now())
	m := make([]byte, len(m0))
	for i := 0; i < 20000; i++ {
		copy(m, m0)
		r, err := b.node.Receive(m, Path{7, forged}, clk.now(), reply)
		switch {
		case err == nil && r.CookieSent:
			cookies++
			if len(r.Reply) >= len(m) {
				t.Fatalf("cookie reply %d bytes for a %d-byte initiation", len(r.Reply), len(m))
			}
		case errors.Is(err, ErrUnknownKey), errors.Is(err, ErrHandshake):
		default:
			t.Fatalf("forged initiation %d: %+v %v", i, r, err)
		}
	}
	if cookies < 19990 {
		t.Fatalf("only %d of 20000 forged initiations met a cookie demand", cookies)
	}
	if b.node.idx.len() != before {
		t.Fatal("the flood grew B's index table")
	}

	// A, from its real path, is asked for a cookie, takes it, and gets in.
	init, _ := a.peer.WriteInitiation(make([]byte, wire.InitiationLen), clk.now())
	init = append([]byte(nil), init...)
	r, err := b.node.Receive(append([]byte(nil), init...), b.path, clk.now(), reply)
	if err != nil || !r.CookieSent {
		t.Fatalf("A not asked for a cookie under load: %+v %v", r, err)
	}
	ck := append([]byte(nil), r.Reply...)
	// A cookie reply for another path does not help that other path.
	if _, err := a.node.Receive(ck, a.path, clk.now(), reply); err != nil {
		t.Fatalf("A refused the cookie reply: %v", err)
	}
	a.peer.StampMac2(init, a.path, clk.now())
	// The stamped initiation from a forged source still needs a cookie:
	// the cookie is bound to A's address.
	r, err = b.node.Receive(append([]byte(nil), init...), Path{1, forged}, clk.now(), reply)
	if err != nil || !r.CookieSent {
		t.Fatalf("A's cookie worked from another source: %+v %v", r, err)
	}
	r, err = b.node.Receive(append([]byte(nil), init...), b.path, clk.now(), reply)
	if err != nil || r.CookieSent || r.Peer != b.peer {
		t.Fatalf("A with its cookie: %+v %v", r, err)
	}
	if _, err := a.node.Receive(r.Reply, a.path, clk.now(), make([]byte, ReplyBufferLen)); err != nil {
		t.Fatalf("A refused B's response: %v", err)
	}
	// A forged cookie reply is refused.
	junk := make([]byte, wire.CookieReplyLen)
	rand.Read(junk)
	wire.PutPreamble(junk, wire.MsgCookieReply)
	if _, err := a.node.Receive(junk, a.path, clk.now(), reply); err == nil {
		t.Fatal("junk cookie reply accepted")
	}
}

// Proven sources are rate limited per source under load.
func TestRateLimitUnderLoad(t *testing.T) {
	var l limiter
	l.init(1, 1)
	now := time.Unix(1_800_000_000, 0)
	src := netip.MustParseAddr("198.18.0.2")
	n := 0
	for i := 0; i < 1000; i++ {
		if l.allow(src, now.Add(time.Duration(i)*time.Millisecond)) {
			n++
		}
	}
	// burst 5 + 20/s over one second
	if n < 20 || n > 30 {
		t.Fatalf("%d of 1000 handshakes in one second allowed from one source", n)
	}
	if !l.allow(netip.MustParseAddr("198.18.1.2"), now.Add(time.Second)) {
		t.Fatal("another source shares the exhausted budget")
	}
}

// Both sides initiate at once: exactly one handshake completes and both
// sides can send.
func TestCrossedInitiations(t *testing.T) {
	a, b := newPair(t, Config{})
	clk := newClock()
	ia, _ := a.peer.WriteInitiation(make([]byte, wire.InitiationLen), clk.now())
	ib, _ := b.peer.WriteInitiation(make([]byte, wire.InitiationLen), clk.now())
	ra, errA := open(b, ia, clk.now()) // B answers A's, or drops it
	rb, errB := open(a, ib, clk.now())
	if (errA == nil) == (errB == nil) || !errors.Is(errA, ErrCrossed) && !errors.Is(errB, ErrCrossed) {
		t.Fatalf("crossed initiations: %v / %v", errA, errB)
	}
	if errA == nil {
		if _, err := open(a, ra.Reply, clk.now()); err != nil {
			t.Fatal(err)
		}
		if _, err := open(b, sealed(t, a.peer, []byte("p"), clk.now()), clk.now()); err != nil {
			t.Fatal(err)
		}
	} else {
		if _, err := open(b, rb.Reply, clk.now()); err != nil {
			t.Fatal(err)
		}
		if _, err := open(a, sealed(t, b.peer, []byte("p"), clk.now()), clk.now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*side{a, b} {
		if !s.peer.Status(clk.now()).Keyed {
			t.Fatal("a side has no keypair after crossed initiations")
		}
	}
}

// B restarts (same key, no state): A's packets meet unknown indices; A
// notices the silence and rekeys.
func TestPeerRestart(t *testing.T) {
	a, b := newPair(t, Config{SilenceRekey: time.Second})
	clk := newClock()
	handshake(t, a, b, clk.now())
	open(b, sealed(t, a.peer, []byte("x"), clk.now()), clk.now())
	open(a, sealed(t, b.peer, []byte("x"), clk.now()), clk.now())

	nb, _ := NewNode(Config{PrivateKey: b.node.priv})
	b.node = nb
	b.peer, _ = nb.AddPeer(a.node.PublicKey(), netip.PrefixFrom(a.vip, 32))
	resumed := time.Duration(-1)
	for step := time.Duration(0); step < 3*time.Second; step += 100 * time.Millisecond {
		now := clk.now().Add(step)
		if a.peer.Tick(now) {
			handshake(t, a, b, now)
		}
		if _, err := open(b, sealed(t, a.peer, []byte("x"), now), now); err == nil {
			resumed = step
			break
		}
	}
	if resumed <= 0 || resumed > 1500*time.Millisecond {
		t.Fatalf("stream resumed after %v", resumed)
	}
}

// Under load a response to our pending initiation still completes (no
// cookie is demanded from a responder), and a flood of forged responses
// is rate limited per source.
func TestResponseUnderLoad(t *testing.T) {
	a, b := newPair(t, Config{LoadPerSecond: 1})
	clk := newClock()
	init, _ := a.peer.WriteInitiation(make([]byte, wire.InitiationLen), clk.now())
	r, err := open(b, init, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	resp := append([]byte(nil), r.Reply...)
	// A is pushed under load by junk responses with a right mac1 (B's
	// real response, body altered) from one forged source.
	forged := Path{9, netip.MustParseAddrPort("198.18.9.9:0")}
	limited := 0
	for i := 0; i < 100; i++ {
		j := append([]byte(nil), resp...)
		j[wire.RespNoiseOff] ^= byte(i + 1)
		copy(j[wire.RespMac1Off:], func() []byte { m := mac(a.peer.node.mac1Key[:], j[:wire.RespMac1Off]); return m[:] }())
		if _, err := a.node.Receive(j, forged, clk.now(), make([]byte, ReplyBufferLen)); errors.Is(err, ErrRateLimited) {
			limited++
		} else if err == nil {
			t.Fatal("forged response accepted")
		}
	}
	if limited < 90 {
		t.Fatalf("only %d of 100 forged responses rate limited", limited)
	}
	if r, err := open(a, resp, clk.now()); err != nil || !r.HandshakeDone {
		t.Fatalf("real response under load: %+v %v", r, err)
	}
}

// However large the flood, at most CookieRepliesPerSecond replies leave a
// second; the rest are dropped after one hash.
func TestCookieReplyCap(t *testing.T) {
	a, b := newPair(t, Config{LoadPerSecond: 1, CookieRepliesPerSecond: 10})
	clk := newClock()
	m0, _ := a.peer.WriteInitiation(make([]byte, wire.InitiationLen), clk.now())
	m := make([]byte, len(m0))
	src := Path{1, netip.MustParseAddrPort("198.18.9.9:0")}
	for sec := 0; sec < 3; sec++ {
		replies := 0
		for i := 0; i < 1000; i++ {
			copy(m, m0)
			r, err := b.node.Receive(m, src, clk.now(), make([]byte, ReplyBufferLen))
			if r.CookieSent {
				replies++
			} else if !errors.Is(err, ErrRateLimited) && !(sec == 0 && i < 2) {
				t.Fatalf("second %d, initiation %d: %+v %v", sec, i, r, err)
			}
		}
		if replies > 10 || replies < 9 {
			t.Fatalf("second %d: %d cookie replies, want at most 10", sec, replies)
		}
		clk.advance(time.Second)
	}
}
