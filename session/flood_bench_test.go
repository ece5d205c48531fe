package session

import (
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// What a forged initiation costs the responder: with a wrong mac1 (the
// sender does not know our key); under load with a right mac1 but no
// cookie (one cookie reply, no DH); and beyond the cookie reply cap
// (dropped). 100,000 per second costs this times 1e5.
func BenchmarkForgedInitiation(bm *testing.B) {
	for _, c := range []struct {
		name      string
		rightMac1 bool
		replies   int
	}{
		{"wrong-mac1", false, 1},
		{"under-load-cookie-reply", true, 1 << 30},
		{"under-load-over-reply-cap", true, 1},
	} {
		bm.Run(c.name, func(bm *testing.B) {
			a, b := newPair(bm, Config{LoadPerSecond: 1, CookieRepliesPerSecond: c.replies})
			now := time.Unix(1_800_000_000, 0)
			init, _ := a.peer.WriteInitiation(make([]byte, wire.InitiationLen), now)
			if !c.rightMac1 {
				init[wire.InitMac1Off] ^= 1
			}
			src := Path{1, netip.MustParseAddrPort("198.18.9.9:0")}
			reply := make([]byte, ReplyBufferLen)
			b.node.Receive(init, src, now, reply) // the first one passes the meter
			b.node.Receive(init, src, now, reply) // the second spends a 1-reply cap
			bm.ReportAllocs()
			for bm.Loop() {
				r, err := b.node.Receive(init, src, now, reply)
				want := c.rightMac1 && (c.replies > 1 && r.CookieSent || c.replies == 1 && err == ErrRateLimited) ||
					!c.rightMac1 && err == ErrMac1
				if !want {
					bm.Fatalf("%+v %v", r, err)
				}
			}
		})
	}
}

// BenchmarkHandshake is one complete handshake: initiation written,
// consumed, answered, response consumed (four X25519 on each side).
func BenchmarkHandshake(bm *testing.B) {
	a, b := newPair(bm, Config{LoadPerSecond: 1 << 30})
	now := time.Unix(1_800_000_000, 0)
	for bm.Loop() {
		now = now.Add(InitiationMinGap)
		handshake(bm, a, b, now)
	}
}
