package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// Seal and Receive of transport messages allocate nothing.
func TestSealOpenZeroAllocs(t *testing.T) {
	a, b := newPair(t, Config{})
	now := newClock().now()
	handshake(t, a, b, now)
	buf := make([]byte, wire.TransportHeaderLen+1200, wire.TransportHeaderLen+1200+wire.TagLen)
	reply := make([]byte, ReplyBufferLen)
	var msg []byte
	var err error
	if n := testing.AllocsPerRun(1000, func() {
		msg, err = a.peer.Seal(buf[:wire.TransportHeaderLen+1200], wire.MsgData, now)
	}); n != 0 || err != nil {
		t.Fatalf("Seal: %v allocations per run (%v)", n, err)
	}
	// Each run opens a freshly sealed message (a duplicate would be cheap).
	if n := testing.AllocsPerRun(1000, func() {
		msg, _ = a.peer.Seal(buf[:wire.TransportHeaderLen+1200], wire.MsgData, now)
		_, err = b.node.Receive(msg, b.path, now, reply)
	}); n != 0 || err != nil {
		t.Fatalf("Seal+Receive: %v allocations per run (%v)", n, err)
	}
	// Dropping a duplicate and a forged message allocates nothing either.
	if n := testing.AllocsPerRun(1000, func() {
		_, err = b.node.Receive(msg, b.path, now, reply)
	}); n != 0 || err == nil {
		t.Fatalf("duplicate: %v allocations per run (%v)", n, err)
	}
}

var benchSizes = []int{64, 200, 1200, 1400}

func BenchmarkSeal(bm *testing.B) {
	for _, size := range benchSizes {
		bm.Run(fmt.Sprint(size), func(bm *testing.B) {
			a, b := newPair(bm, Config{})
			now := time.Unix(1_800_000_000, 0)
			handshake(bm, a, b, now)
			buf := make([]byte, wire.TransportHeaderLen+size, wire.TransportHeaderLen+size+wire.TagLen)
			bm.SetBytes(int64(size))
			bm.ReportAllocs()
			for bm.Loop() {
				if _, err := a.peer.Seal(buf, wire.MsgData, now); err != nil {
					bm.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen measures Receive of a transport message: index lookup,
// replay check, decryption, window update. Messages are sealed outside the
// timer in batches.
func BenchmarkOpen(bm *testing.B) {
	for _, size := range benchSizes {
		bm.Run(fmt.Sprint(size), func(bm *testing.B) {
			a, b := newPair(bm, Config{})
			now := time.Unix(1_800_000_000, 0)
			handshake(bm, a, b, now)
			const batch = 1024
			msgs := make([][]byte, batch)
			for i := range msgs {
				msgs[i] = make([]byte, wire.TransportHeaderLen+size, wire.TransportHeaderLen+size+wire.TagLen)
			}
			reply := make([]byte, ReplyBufferLen)
			bm.SetBytes(int64(size))
			bm.ReportAllocs()
			i := batch
			for bm.Loop() {
				if i == batch {
					bm.StopTimer()
					for j := range msgs {
						msgs[j], _ = a.peer.Seal(msgs[j][:wire.TransportHeaderLen+size], wire.MsgData, now)
					}
					i = 0
					bm.StartTimer()
				}
				if _, err := b.node.Receive(msgs[i], b.path, now, reply); err != nil {
					bm.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkDuplicate is the cost of the second copy of a data packet: the
// replay window refuses it before any decryption.
func BenchmarkDuplicate(bm *testing.B) {
	a, b := newPair(bm, Config{})
	now := time.Unix(1_800_000_000, 0)
	handshake(bm, a, b, now)
	buf := make([]byte, wire.TransportHeaderLen+1200, wire.TransportHeaderLen+1200+wire.TagLen)
	msg, _ := a.peer.Seal(buf, wire.MsgData, now)
	reply := make([]byte, ReplyBufferLen)
	b.node.Receive(append([]byte(nil), msg...), b.path, now, reply)
	bm.ReportAllocs()
	for bm.Loop() {
		if _, err := b.node.Receive(msg, b.path, now, reply); err != ErrDuplicate {
			bm.Fatal(err)
		}
	}
}
