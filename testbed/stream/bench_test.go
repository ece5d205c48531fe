package stream

import (
	"context"
	"net"
	"testing"
	"time"
)

// replayReader returns the same datagram n times, then net.ErrClosed.
type replayReader struct {
	pkt []byte
	n   int
}

func (r *replayReader) Read(b []byte) (int, error) {
	if r.n == 0 {
		return 0, net.ErrClosed
	}
	r.n--
	return copy(b, r.pkt), nil
}

// BenchmarkReceiverPerPacket is the sink's own work per datagram (parse,
// clock, record) without the system call; TestFiguresSinkCPU adds that.
func BenchmarkReceiverPerPacket(b *testing.B) {
	pkt := make([]byte, 160)
	putHeader(pkt, header{streamID: 1, seq: 1, sentNS: 1})
	b.ReportAllocs()
	for left := b.N; left > 0; {
		chunk := min(left, 1<<20) // a receiver records at most MaxRecords
		left -= chunk
		b.StopTimer()
		r, err := NewReceiver(&replayReader{pkt: pkt, n: chunk}, ReceiverConfig{StreamID: 1, Capacity: chunk})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c, err := r.Run(context.Background())
		if err != nil || len(c.Arrivals) != chunk {
			b.Fatalf("recorded %d of %d: %v", len(c.Arrivals), chunk, err)
		}
	}
}

// BenchmarkAnalyzePerPacket is Analyze's cost per packet of a 60 s,
// 1,000 packet/s stream with 1 % loss.
func BenchmarkAnalyzePerPacket(b *testing.B) {
	p := AudioProfile(1000, 160, time.Minute)
	n := p.ExpectedPackets()
	var c Capture
	for seq := range n {
		if seq%100 != 7 {
			c.Arrivals = append(c.Arrivals, Arrival{Seq: seq, SentNS: int64(seq) * 1e6, RecvNS: int64(seq)*1e6 + 20e6 + int64(seq%13)*1e5})
		}
	}
	s := SenderStats{Profile: p, Sent: n}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Analyze("x", s, c, Options{})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/packet")
}

func BenchmarkNow(b *testing.B) {
	for b.Loop() {
		Now()
	}
}

func BenchmarkClockGettimeSyscall(b *testing.B) {
	for b.Loop() {
		clockGettime()
	}
}

func TestNowIsCLOCK_MONOTONIC(t *testing.T) {
	before := clockGettime()
	now := Now()
	after := clockGettime()
	// The anchor's error is half a bracketing read; allow a generous 1 ms
	// for a descheduled thread.
	if now < before-1e6 || now > after+1e6 {
		t.Errorf("Now() = %d outside [%d, %d] of CLOCK_MONOTONIC", now, before, after)
	}
}
