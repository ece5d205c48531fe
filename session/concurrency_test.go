package session

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// Two senders seal while two receivers open and the keys rotate under
// them: every counter is unique, every packet is delivered once (run with
// -race to check the locking).
func TestConcurrentSealOpenRekey(t *testing.T) {
	a, b := newPair(t, Config{})
	start := time.Unix(1_800_000_000, 0)
	handshake(t, a, b, start)
	const perSender = 20000
	msgs := make(chan []byte, 1024)
	var delivered sync.Map
	var dups, opened atomic.Int64
	var wg sync.WaitGroup
	for s := 0; s < 2; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perSender; i++ {
				buf := make([]byte, wire.TransportHeaderLen+8, wire.TransportHeaderLen+8+wire.TagLen)
				binary.BigEndian.PutUint64(buf[wire.TransportHeaderLen:], uint64(s*perSender+i))
				m, err := a.peer.Seal(buf, wire.MsgData, start)
				if err != nil {
					t.Error(err)
					return
				}
				msgs <- m
				msgs <- append([]byte(nil), m...) // the copy on a second path
			}
		}()
	}
	var rx sync.WaitGroup
	for r := 0; r < 2; r++ {
		rx.Add(1)
		go func() {
			defer rx.Done()
			reply := make([]byte, ReplyBufferLen)
			for m := range msgs {
				res, err := b.node.Receive(m, b.path, start, reply)
				switch {
				case errors.Is(err, ErrDuplicate):
					dups.Add(1)
				case err != nil:
					t.Error(err)
				default:
					if _, loaded := delivered.LoadOrStore(binary.BigEndian.Uint64(res.Payload), true); loaded {
						t.Error("delivered twice")
					}
					opened.Add(1)
				}
			}
		}()
	}
	// Rekey twice while the stream runs; the old keypair keeps opening.
	// Between rekeys, wait (on counters, bounded) until B has confirmed
	// the new keypair and opened a few thousand more packets: a packet
	// delayed across two whole rekeys would meet a dropped keypair, as
	// in WireGuard.
	waitFor := func(what string, cond func() bool) {
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	for k := 1; k <= 2; k++ {
		from := opened.Load()
		waitFor("the stream to run", func() bool { return opened.Load() >= from+4096 })
		handshake(t, a, b, start.Add(time.Duration(k)*RekeyTimeout))
		waitFor("B to confirm the new keypair", func() bool { return b.peer.next.Load() == nil })
	}
	wg.Wait()
	close(msgs)
	rx.Wait()
	if opened.Load() != 2*perSender || dups.Load() != 2*perSender {
		t.Fatalf("opened %d, duplicates %d, want %d each", opened.Load(), dups.Load(), 2*perSender)
	}
}
