package aggregator

import (
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// stuckWriter is a log destination that never returns from Write until the
// test ends: a paused terminal, a wedged journald.
type stuckWriter struct {
	release chan struct{}
	calls   atomic.Int64
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	w.calls.Add(1)
	<-w.release
	return len(p), nil
}

func TestStuckLogWriterDoesNotStallPackets(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(w), zapcore.DebugLevel))
	t.Cleanup(func() { close(w.release) }) // registered first: runs after the engines closed
	p := newPairWith(t, func(c *Config) { c.Logger = log })
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(p.a, vipB) == 2 && upConns(p.b, vipA) == 2 })
	waitFor(t, "the log writer stuck", 2*time.Second, func() bool { return w.calls.Load() > 0 })
	const n = 2000
	for i := range uint32(n) {
		if err := p.a.Send(vipB, ipv4Packet(i)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(t, "the stream delivered past a stuck logger", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == n })
	// Path events keep coming (cut a path) and are dropped, not waited for.
	p.net.SetDown("s0", true)
	waitFor(t, "a path down noticed", 2*time.Second, func() bool { return upConns(p.a, vipB) == 1 })
	if n := w.calls.Load(); n > 2 {
		t.Fatalf("the stuck writer was entered %d times, want at most 2 (one log goroutine per engine)", n)
	}
}
