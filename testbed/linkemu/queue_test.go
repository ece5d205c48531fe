package linkemu

import (
	"math/rand/v2"
	"testing"
)

func TestTimedQueueOrdersByDueThenArrival(t *testing.T) {
	q := timedQueue{maxFrames: 1000, maxBytes: 1 << 20}
	rng := rand.New(rand.NewPCG(1, 2))
	type item struct{ due, id int64 }
	for i := range 500 {
		b := []byte{byte(i), byte(i >> 8)}
		q.push(rng.Int64N(50), &b)
	}
	var last item
	for i := 0; q.len() > 0; i++ {
		p := q.pop()
		id := int64((*p.frame)[0]) | int64((*p.frame)[1])<<8
		if p.due < last.due || (p.due == last.due && i > 0 && id < last.id) {
			t.Fatalf("pop %d: due %d id %d after due %d id %d", i, p.due, id, last.due, last.id)
		}
		last = item{p.due, id}
	}
	if q.bytes != 0 {
		t.Errorf("bytes after draining = %d", q.bytes)
	}
}

func TestTimedQueueBounds(t *testing.T) {
	q := timedQueue{maxFrames: 3, maxBytes: 250}
	b := make([]byte, 100)
	if !q.fits(100) {
		t.Fatal("empty queue refuses a frame")
	}
	q.push(1, &b)
	q.push(2, &b)
	if q.fits(100) {
		t.Error("queue over its byte bound accepts a frame")
	}
	if !q.fits(50) {
		t.Error("queue refuses a frame that fits")
	}
	s := make([]byte, 10)
	q.push(3, &s)
	if q.fits(1) {
		t.Error("queue at its frame bound accepts a frame")
	}
}
