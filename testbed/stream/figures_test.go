package stream_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed/stream"
)

// TestFiguresAt10k logs pacing, latency and CPU at 10,000 packet/s over a
// bare veth. It asserts only correctness: timings on a shared machine are
// figures to read, not pass/fail.
func TestFiguresAt10k(t *testing.T) {
	if testing.Short() {
		t.Skip("figures run: -short skips it")
	}
	sender, sink := vethPair(t)
	p := stream.AudioProfile(10_000, 160, 2*time.Second)
	flow := openFlow(t, "veth", sender, sink, p, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cpu0, wall0 := cpuNS(), time.Now()
	results, err := stream.Measure(ctx, []stream.Flow{flow}, stream.Options{})
	cpu, wall := cpuNS()-cpu0, time.Since(wall0)
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	if r.Sent != 20_000 || r.Duplicates != 0 || r.Received == 0 {
		t.Errorf("sent %d received %d duplicates %d; want 20000 sent, some received, no duplicates", r.Sent, r.Received, r.Duplicates)
	}
	t.Logf("10,000 packet/s × 160 B for 2 s over veth: received %d/%d, pacing (send − scheduled) p50 %.1f µs p99 %.1f µs max %.1f µs; "+
		"latency p50 %.3f ms p99 %.3f ms max %.3f ms; process CPU %.1f µs per packet (sender + sink, %.0f %% of a core over %v)",
		r.Received, r.Sent, r.Pacing.P50US, r.Pacing.P99US, r.Pacing.MaxUS, r.Latency.P50, r.Latency.P99, r.Latency.Max,
		float64(cpu)/1e3/float64(r.Sent), 100*float64(cpu)/float64(wall), wall.Round(time.Millisecond))
}

// countingConn counts datagrams read, so a test can wait for a backlog to drain.
type countingConn struct {
	*net.UDPConn
	reads atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.UDPConn.Read(b)
	if err == nil {
		c.reads.Add(1)
	}
	return n, err
}

// TestFiguresSinkCPU measures what the sink costs per packet, system call
// included: a backlog of packets is queued on the socket first, then the
// process does nothing but drain it through a Receiver.
func TestFiguresSinkCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("figures run: -short skips it")
	}
	const backlog = 20_000
	sender, sink := vethPair(t)
	p := stream.AudioProfile(100_000, 160, backlog*10*time.Microsecond)
	sconn, rconn := openSockets(t, sender, sink)
	forceReadBuffer(t, rconn, 256<<20)

	cc := &countingConn{UDPConn: rconn}
	flow := newFlow(t, "veth", sconn, cc, p, 0)
	st, err := flow.Sender.Run(t.Context())
	if err != nil || st.Sent != backlog {
		t.Fatalf("filling the backlog: sent %d, %v", st.Sent, err)
	}
	time.Sleep(50 * time.Millisecond) // let the veth deliver the last ones

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan stream.Capture)
	cpu0 := cpuNS()
	go func() { c, _ := flow.Receiver.Run(ctx); done <- c }()
	var last int64 = -1
	for n := cc.reads.Load(); n != last; n = cc.reads.Load() {
		last = n
		time.Sleep(20 * time.Millisecond) // stops once nothing more arrives
	}
	cpu := cpuNS() - cpu0
	cancel()
	c := <-done
	if len(c.Arrivals) == 0 {
		t.Fatal("sink drained nothing")
	}
	t.Logf("sink drained %d of %d queued packets: %.2f µs CPU per packet (recvfrom + clock + record)",
		len(c.Arrivals), backlog, float64(cpu)/1e3/float64(len(c.Arrivals)))
}
