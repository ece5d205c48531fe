package stream_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"github.com/polylink/polylink/testbed/stream"
)

const (
	senderAddr = "198.18.60.1"
	sinkAddr   = "198.18.60.2"
	sinkPort   = 5004
)

// vethPair returns two namespaces linked by a veth, 198.18.60.1 ↔ .2, with
// both ends up and carrying traffic.
func vethPair(t testing.TB) (sender, sink *testbed.Namespace) {
	sender, sink = nstest.Namespace(t, "pl-st"), nstest.Namespace(t, "pl-st")
	nstest.Veth(t, sender, "eth0", senderAddr+"/24", sink, "eth0", sinkAddr+"/24")
	for _, ns := range []*testbed.Namespace{sender, sink} {
		waitFor(t, "eth0 up in "+ns.Name, func() bool {
			out, err := ns.Run("ip", "-o", "link", "show", "eth0")
			return err == nil && strings.Contains(out, "LOWER_UP")
		})
	}
	return sender, sink
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// openSockets opens the sink's UDP socket in sink and a sender socket
// connected to it in sender; both close at test end.
func openSockets(t testing.TB, sender, sink *testbed.Namespace) (sconn, rconn *net.UDPConn) {
	t.Helper()
	sinkAt := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(sinkAddr), sinkPort))
	if err := sink.Do(func() (err error) {
		rconn, err = net.ListenUDP("udp4", sinkAt)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rconn.Close() })
	// Room for seconds of the stream: on a loaded machine the reading
	// goroutine can go unscheduled for longer than the default buffer
	// (~200 datagrams) lasts, and the kernel's drop would count as a loss
	// of the link under test. The UDP RcvbufErrors logged on failure show it.
	forceReadBuffer(t, rconn, 16<<20)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := sink.Run("cat", "/proc/net/snmp")
			t.Logf("sink's UDP counters:\n%s", udpCounters(out))
		}
	})
	if err := sender.Do(func() (err error) {
		sconn, err = net.DialUDP("udp4", nil, sinkAt)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sconn.Close() })
	return sconn, rconn
}

// newFlow wraps a writer and a reader as one stream of profile p.
func newFlow(t testing.TB, name string, w stream.Writer, r stream.Reader, p stream.Profile, start int64) stream.Flow {
	t.Helper()
	s, err := stream.NewSender(w, stream.SenderConfig{StreamID: 1, Profile: p, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := stream.NewReceiver(r, stream.ReceiverConfig{StreamID: 1, Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	return stream.Flow{Name: name, Sender: s, Receiver: rcv}
}

// openFlow opens sockets (openSockets) and wraps them as one stream.
func openFlow(t testing.TB, name string, sender, sink *testbed.Namespace, p stream.Profile, start int64) stream.Flow {
	t.Helper()
	sconn, rconn := openSockets(t, sender, sink)
	return newFlow(t, name, sconn, rconn, p, start)
}

// forceReadBuffer sets c's SO_RCVBUFFORCE (root may exceed net.core.rmem_max).
func forceReadBuffer(t testing.TB, c *net.UDPConn, size int) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("SO_RCVBUFFORCE: %v", serr)
	}
}

// udpCounters returns the Udp lines of a /proc/net/snmp dump.
func udpCounters(snmp string) string {
	var b strings.Builder
	for _, line := range strings.Split(snmp, "\n") {
		if strings.HasPrefix(line, "Udp:") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func cpuNS() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func TestStreamOverVeth(t *testing.T) {
	sender, sink := vethPair(t)
	p := stream.AudioProfile(1000, 160, 2*time.Second)
	flow := openFlow(t, "veth", sender, sink, p, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	results, err := stream.Measure(ctx, []stream.Flow{flow}, stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	if r.Sent != 2000 || r.Received != r.Sent || r.Duplicates != 0 || r.SendErrors != 0 {
		t.Errorf("sent %d received %d duplicates %d send errors %d; want 2000 each received, no duplicates or errors",
			r.Sent, r.Received, r.Duplicates, r.SendErrors)
	}
	// A sanity bound, not a performance target: a veth adds microseconds.
	if r.Latency.P50 <= 0 || r.Latency.P50 > 100 {
		t.Errorf("p50 latency %v ms over a bare veth", r.Latency.P50)
	}
	t.Logf("1,000 packet/s over veth: latency p50 %.3f ms p99 %.3f ms max %.3f ms, jitter %.3f ms; pacing p50 %.1f µs p99 %.1f µs max %.1f µs",
		r.Latency.P50, r.Latency.P99, r.Latency.Max, r.JitterMS, r.Pacing.P50US, r.Pacing.P99US, r.Pacing.MaxUS)
}

func TestStreamLinkDownWindow(t *testing.T) {
	sender, sink := vethPair(t)
	p := stream.AudioProfile(1000, 160, 4*time.Second)
	start := stream.Now() + int64(100*time.Millisecond)
	flow := openFlow(t, "veth", sender, sink, p, start)

	// Cut the sender's end from 1 s to 3 s into the stream. The cut happens
	// somewhere inside each ip command, so the window between the commands
	// is certainly down and the window around them holds every loss.
	// Windows are in schedule time and a packet leaves up to the sender's
	// worst lateness after its schedule (a loaded machine descheduled it),
	// so the outer window starts that much earlier and the inner one ends
	// that much earlier: a packet due before the cut may leave during it.
	var before, downDone, upStart, after int64
	cutDone := make(chan error, 1)
	go func() {
		sleepUntil(start + int64(time.Second))
		before = stream.Now()
		_, err := sender.Run("ip", "link", "set", "eth0", "down")
		downDone = stream.Now()
		if err == nil {
			sleepUntil(start + int64(3*time.Second))
			upStart = stream.Now()
			_, err = sender.Run("ip", "link", "set", "eth0", "up")
			after = stream.Now()
		}
		cutDone <- err
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	outcomes, err := stream.RunFlows(ctx, []stream.Flow{flow}, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-cutDone; err != nil {
		t.Fatal(err)
	}
	late := int64(outcomes[0].Sent.Pacing.MaxUS * 1e3)
	outer := stream.WindowSince("around cut", start, before-late, after)
	inner := stream.WindowSince("inside cut", start, downDone, upStart-late)
	r := outcomes[0].Analyze(stream.Options{Windows: []stream.Window{outer, inner}})
	around, inside := r.Windows[0], r.Windows[1]
	t.Logf("link down from %.1f to %.1f ms, sender up to %.1f ms late: lost %d (%d send errors %v), around the cut %d/%d, inside %d/%d",
		around.FromMS, around.ToMS, float64(late)/1e6, r.Lost, r.SendErrors, r.ErrorsByReason, around.Lost, around.Sent, inside.Lost, inside.Sent)
	if r.Sent != 4000 || r.Duplicates != 0 {
		t.Errorf("sent %d duplicates %d; want 4000, 0", r.Sent, r.Duplicates)
	}
	if inside.Sent < 500 || inside.LossRatio != 1 {
		t.Errorf("while certainly down: lost %d of %d, want all of at least 500", inside.Lost, inside.Sent)
	}
	if around.Lost != r.Lost {
		t.Errorf("lost %d in all, %d around the cut: losses outside the cut", r.Lost, around.Lost)
	}
}

// sleepUntil sleeps until the CLOCK_MONOTONIC time at.
func sleepUntil(at int64) {
	time.Sleep(time.Duration(at - stream.Now()))
}
