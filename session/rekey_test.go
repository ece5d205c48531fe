package session

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// inflight is a message on a simulated path.
type inflight struct {
	at  time.Time
	msg []byte
}

// link is one direction of one path with a constant delay.
type link struct {
	delay time.Duration
	q     []inflight
}

func (l *link) send(now time.Time, msg []byte) {
	l.q = append(l.q, inflight{now.Add(l.delay), append([]byte(nil), msg...)})
}

func (l *link) due(now time.Time) (out [][]byte) {
	for len(l.q) > 0 && !l.q[0].at.After(now) {
		out = append(out, l.q[0].msg)
		l.q = l.q[1:]
	}
	return out
}

// Two streams (A→B, B→A), every packet sealed once and sent on two paths
// (10 ms and 80 ms), for 8 simulated minutes: rekeys happen on time and on
// message count while packets of the old keypair are in flight, and every
// packet is delivered exactly once.
func TestRekeyUnderStreamLosesNothing(t *testing.T) {
	a, b := newPair(t, Config{RekeyAfterMessages: 20000})
	clk := newClock()
	sides := []*side{a, b}
	// links[i][p]: from sides[i] on path p
	links := [2][2]*link{{{delay: 10 * time.Millisecond}, {delay: 80 * time.Millisecond}},
		{{delay: 10 * time.Millisecond}, {delay: 80 * time.Millisecond}}}
	var sent, delivered, dups [2]int
	var got [2]map[uint64]int
	got[0], got[1] = map[uint64]int{}, map[uint64]int{}
	var seq [2]uint64
	keypairs := map[*keypair]bool{}
	reply := make([]byte, ReplyBufferLen)
	buf := make([]byte, 64)

	probe := func(i int, now time.Time) {
		for p := 0; p < 2; p++ {
			m := buf[:wire.TransportHeaderLen+wire.ProbeV2Len]
			pr := wire.ProbeV2{SrcPath: uint32(p + 1), Seq: 1, SendTime: uint64(now.UnixNano())}
			pr.Encode(m[wire.TransportHeaderLen:])
			out, err := sides[i].peer.Seal(m, wire.MsgProbe, now)
			if err == nil {
				links[i][p].send(now, out)
			}
		}
	}
	initiate := func(i int, now time.Time) {
		m, err := sides[i].peer.WriteInitiation(make([]byte, wire.InitiationLen), now)
		if err != nil {
			t.Fatal(err)
		}
		for p := 0; p < 2; p++ {
			links[i][p].send(now, m)
		}
	}
	receive := func(i int, msg []byte, p int, now time.Time) {
		r, err := sides[i].node.Receive(msg, sides[i].path, now, reply)
		switch {
		case errors.Is(err, ErrDuplicate):
			dups[i]++
		case errors.Is(err, ErrStaleHandshake), errors.Is(err, ErrCrossed), errors.Is(err, ErrUnknownIndex) && msg[3]&15 == 2:
			// the slower copy of a handshake message
		case err != nil:
			t.Fatalf("side %d at %v: %v (type %d)", i, now.Sub(newClock().t), err, msg[3]&15)
		case r.Reply != nil:
			links[i][p].send(now, r.Reply) // back on the path it came from
		case r.HandshakeDone:
			probe(i, now)
		case r.Type == wire.MsgData:
			got[i][binary.BigEndian.Uint64(r.Payload)]++
			delivered[i]++
		}
	}

	initiate(0, clk.now())
	end := clk.now().Add(8 * time.Minute)
	for step := 0; clk.now().Before(end); step++ {
		now := clk.now()
		for i := 0; i < 2; i++ {
			for p := 0; p < 2; p++ {
				for _, m := range links[i][p].due(now) {
					receive(1-i, m, p, now)
				}
			}
		}
		if step%100 == 0 {
			for i := 0; i < 2; i++ {
				if sides[i].peer.Tick(now) {
					initiate(i, now)
				}
				probe(i, now)
			}
		}
		if step%4 == 0 && step > 200 { // 250 packet/s each way once keyed
			for i := 0; i < 2; i++ {
				m := buf[:wire.TransportHeaderLen+8]
				binary.BigEndian.PutUint64(m[wire.TransportHeaderLen:], seq[i])
				out, err := sides[i].peer.Seal(m, wire.MsgData, now)
				if err != nil {
					t.Fatalf("side %d cannot seal at %v: %v", i, step, err)
				}
				seq[i]++
				sent[i]++
				links[i][0].send(now, out)
				links[i][1].send(now, out)
			}
			keypairs[a.peer.current.Load()] = true
		}
		clk.advance(time.Millisecond)
	}
	// drain
	for k := 0; k < 100; k++ {
		now := clk.now()
		for i := 0; i < 2; i++ {
			for p := 0; p < 2; p++ {
				for _, m := range links[i][p].due(now) {
					receive(1-i, m, p, now)
				}
			}
		}
		clk.advance(time.Millisecond)
	}
	for i := 0; i < 2; i++ {
		if delivered[1-i] != sent[i] || dups[1-i] < sent[i] {
			t.Errorf("side %d sent %d, delivered %d, duplicates dropped %d", i, sent[i], delivered[1-i], dups[1-i])
		}
		for s := uint64(0); s < seq[i]; s++ {
			if got[1-i][s] != 1 {
				t.Fatalf("side %d packet %d delivered %d times", i, s, got[1-i][s])
			}
		}
	}
	if len(keypairs) < 5 {
		t.Errorf("only %d keypairs in 8 minutes: rekeying did not happen", len(keypairs))
	}
	t.Logf("sent %v, delivered %v, duplicates dropped %v, keypairs used by A %d", sent, delivered, dups, len(keypairs))
}
