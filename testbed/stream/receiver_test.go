package stream

import (
	"context"
	"testing"
	"time"
)

func TestReceiverRecordsAndCountsForeign(t *testing.T) {
	p := newPipe()
	r, err := NewReceiver(p, ReceiverConfig{StreamID: 4, Capacity: 3})
	if err != nil {
		t.Fatal(err)
	}
	pkt := make([]byte, HeaderSize)
	for seq := range uint64(5) {
		putHeader(pkt, header{streamID: 4, seq: seq, sentNS: 100})
		p.Write(pkt)
	}
	putHeader(pkt, header{streamID: 5})
	p.Write(pkt)               // another stream
	p.Write([]byte("garbage")) // not a stream packet

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	c, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Arrivals) != 3 || c.Unrecorded != 2 || c.Foreign != 2 {
		t.Fatalf("recorded %d, unrecorded %d, foreign %d; want 3, 2, 2", len(c.Arrivals), c.Unrecorded, c.Foreign)
	}
	for i, a := range c.Arrivals {
		if a.Seq != uint64(i) || a.SentNS != 100 || a.RecvNS <= 100 {
			t.Errorf("arrival %d = %+v", i, a)
		}
	}
}

func TestCapacityFor(t *testing.T) {
	if got := CapacityFor(AudioProfile(1000, 100, 2*time.Second)); got != 2000+500+64 {
		t.Errorf("CapacityFor(2,000 packets) = %d, want 2564", got)
	}
	if got := CapacityFor(AudioProfile(100_000, 100, time.Hour)); got != MaxRecords {
		t.Errorf("CapacityFor(huge) = %d, want MaxRecords", got)
	}
}
