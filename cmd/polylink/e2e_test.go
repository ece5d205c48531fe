package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"github.com/polylink/polylink/testbed/stream"
)

// End-to-end tests: real daemons in network namespaces joined by two veth
// links, driven through the command line and `status` like a user would.

func TestTwoNodesPingAndStream(t *testing.T) {
	tn := newTwoNodes(t)
	out, err := tn.a.Run("ping", "-c", "5", "-i", "0.05", "-W", "1", tn.vipB)
	if err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping across the tunnel: %v\n%s", err, out)
	}
	flow := udpFlow(t, "polylink", tn.a, tn.b, tn.vipB, 5000, stream.AudioProfile(500, 200, 2*time.Second))
	res, err := stream.Measure(t.Context(), []stream.Flow{flow}, stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Lost != 0 || r.Duplicates != 0 || r.Received != r.Sent {
		t.Fatalf("stream: sent %d received %d lost %d duplicates %d; want all once", r.Sent, r.Received, r.Lost, r.Duplicates)
	}
	t.Logf("500 packet/s over 2 links: p50 %.3f ms p99 %.3f ms", r.Latency.P50, r.Latency.P99)
	st := tn.na.status()
	if st.TUN.Name != "pl0" || st.TUN.Addr != tn.vipA+"/24" || len(st.Local) != 2 || len(st.Hosts) != 1 {
		t.Fatalf("status: tun %+v, %d local NICs, %d hosts", st.TUN, len(st.Local), len(st.Hosts))
	}
	// A path's state is read at one moment: on a loaded machine a late
	// probe answer makes it half (1) for a while. Both must be up again
	// (waited for), each with an RTT.
	waitFor(t, "both paths in state 2 on A", 10*time.Second, func() bool { return tn.na.upPaths(tn.vipB) == 2 })
	for _, c := range tn.na.status().Hosts[0].Connections {
		if c.State == 2 && c.RTTMs <= 0 {
			t.Errorf("path %s → %s is up but has no RTT", c.Local, c.RemoteAddr)
		}
	}
	b := tn.nb.status().Counters
	if b.Delivered < r.Sent || b.DuplicatesDropped == 0 {
		t.Errorf("B delivered %d (want ≥ %d) and dropped %d duplicates (want > 0)", b.Delivered, r.Sent, b.DuplicatesDropped)
	}
}

// connState returns the state of node n's connection over the remote
// address addr to host vip, -1 if there is none.
func connState(n *node, vip, remoteAddr string) int {
	for _, h := range n.status().Hosts {
		if h.VIP != vip {
			continue
		}
		for _, c := range h.Connections {
			if c.RemoteAddr == remoteAddr && c.State == 2 {
				return 2
			}
		}
		for _, c := range h.Connections {
			if c.RemoteAddr == remoteAddr {
				return c.State
			}
		}
	}
	return -1
}

func TestCutLinkMidStreamLosesNothing(t *testing.T) {
	tn := newTwoNodes(t)
	flow := udpFlow(t, "polylink", tn.a, tn.b, tn.vipB, 5001, stream.AudioProfile(500, 200, 4*time.Second))
	wait := measureInBackground(flow)

	time.Sleep(time.Second)
	cut := time.Now()
	if _, err := tn.a.Run("ip", "addr", "del", tn.underlay[0][0]+"/24", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's path to A's eth0 falls to state 0", 5*time.Second, func() bool {
		return connState(tn.nb, tn.vipA, tn.underlay[0][0]) == 0
	})
	t.Logf("path seen dead %v after the cut (dead interval 150 ms, probe 50 ms)", time.Since(cut).Round(time.Millisecond))
	// Loose: only a broken dead interval (e.g. waiting for the 10 s host
	// timeout) fails; the figure is logged above.
	if d := time.Since(cut); d > 2*time.Second {
		t.Errorf("dead path noticed after %v, want about the 150 ms dead interval", d)
	}

	time.Sleep(500 * time.Millisecond)
	restore := time.Now()
	if _, err := tn.a.Run("ip", "addr", "add", tn.underlay[0][0]+"/24", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restored path back in state 2", 5*time.Second, func() bool {
		return connState(tn.nb, tn.vipA, tn.underlay[0][0]) == 2 && connState(tn.na, tn.vipB, tn.underlay[0][1]) == 2
	})
	t.Logf("restored path up again %v after the address came back (probe interval 50 ms)", time.Since(restore).Round(time.Millisecond))
	if d := time.Since(restore); d > 2*time.Second {
		t.Errorf("restored path up after %v, want within about one probe interval", d)
	}
	if r := wait(t); r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("cut mid-stream: sent %d lost %d duplicates %d; want 0 lost, 0 duplicates", r.Sent, r.Lost, r.Duplicates)
	}
}

func TestRestartMidStreamResumesWithoutDuplicateDrops(t *testing.T) {
	tn := newTwoNodes(t)
	p := stream.AudioProfile(500, 200, 5*time.Second)
	flow := udpFlow(t, "polylink", tn.a, tn.b, tn.vipB, 5002, p)
	start := stream.Now()
	var (
		sent    stream.SenderStats
		capture stream.Capture
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	wg.Go(func() { capture, _ = flow.Receiver.Run(ctx) })
	wg.Go(func() { sent, _ = flow.Sender.Run(context.Background()) })

	time.Sleep(1500 * time.Millisecond)
	tn.na.stop() // the sending side's daemon
	tn.na.start()
	back := stream.Now()
	t.Logf("daemon down and back in %v", time.Duration(back-start-1500e6).Round(time.Millisecond))
	time.Sleep(5*time.Second - time.Duration(back-start) + time.Second)
	cancel()
	wg.Wait()

	res := stream.Analyze("polylink", sent, capture, stream.Options{Windows: []stream.Window{
		stream.WindowSince("after restart + 1 s", start, back+int64(time.Second), sent.EndNS+1),
	}})
	if res.Duplicates != 0 {
		t.Errorf("application saw %d duplicates", res.Duplicates)
	}
	w := res.Windows[0]
	if w.Sent == 0 || w.Lost != 0 {
		t.Fatalf("from 1 s after the restart on: sent %d lost %d; want the stream whole again", w.Sent, w.Lost)
	}
	t.Logf("restart: %d packets lost in all (%d ms at 500 packet/s), none later than 1 s after the daemon was back",
		res.Lost, res.Lost*2)
	if b := tn.nb.status(); len(b.Hosts) != 1 || b.Hosts[0].Epoch == 0 {
		t.Errorf("B should still know A with its new epoch: %+v", b.Hosts)
	}
}

func TestGarbageOnRawSocketsIsDroppedAndCounted(t *testing.T) {
	tn := newTwoNodes(t)
	flow := udpFlow(t, "polylink", tn.a, tn.b, tn.vipB, 5003, stream.AudioProfile(500, 200, 2*time.Second))
	wait := measureInBackground(flow)

	garbage := [][]byte{
		{},                             // nothing after the outer header
		{0xde, 0xad},                   // shorter than a bundle header
		make([]byte, 64),               // zeros: wrong magic
		{0, 0, 0xB7, 0x2F, 1, 2, 3, 4}, // right magic, truncated, bad version
		append([]byte{0x40, 0x01, 0xB7, 0x10, 198, 19, 90, 2, 0, 0, 0, 2, 0, 0, 0, 2}, make([]byte, 30)...), // data with a body that is no IPv4 packet
		append([]byte{0x00, 0x00, 0xB7, 0x1F, 198, 19, 90, 2, 0, 0, 0, 2, 0, 0, 0, 2}, make([]byte, 16)...), // reserved kind 15
	}
	const rounds = 200
	var fd int
	if err := tn.b.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_IPIP)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	dst := &unix.SockaddrInet4{Addr: [4]byte(net.ParseIP(tn.underlay[0][0]).To4())}
	for i := range rounds * len(garbage) {
		if err := unix.Sendto(fd, garbage[i%len(garbage)], 0, dst); err != nil {
			t.Fatalf("spray garbage: %v", err)
		}
		if i%100 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	want := uint64(rounds * len(garbage))
	waitFor(t, "A counts every garbage packet as malformed", 3*time.Second, func() bool {
		return tn.na.status().Counters.MalformedDropped == want
	})
	if r := wait(t); r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("stream under garbage: sent %d lost %d duplicates %d", r.Sent, r.Lost, r.Duplicates)
	}
	st := tn.na.status()
	t.Logf("malformed by reason: %v", st.Malformed)
	if len(st.Hosts) != 1 {
		t.Errorf("garbage must not create hosts: %d hosts", len(st.Hosts))
	}
}

// TestNICAddedCarriesTrafficWithoutRestart adds a second link to two
// running daemons: the new path is up within about a round trip of the
// address appearing, and a stream running through it all loses nothing,
// also when the new link is deleted again.
func TestNICAddedCarriesTrafficWithoutRestart(t *testing.T) {
	nstest.RequireRoot(t)
	a, b := nstest.Namespace(t, "pl-e2e-a"), nstest.Namespace(t, "pl-e2e-b")
	nstest.Veth(t, a, "eth0", "198.18.92.1/24", b, "eth0", "198.18.92.2/24")
	na := startNode(t, a, "--vip", "198.19.92.1/24", "--peer", "198.18.92.2", "--peer", "198.18.93.2", "--probe", "50ms")
	startNode(t, b, "--vip", "198.19.92.2/24", "--peer", "198.18.92.1", "--peer", "198.18.93.1", "--probe", "50ms")
	waitFor(t, "the first path up", 5*time.Second, func() bool { return na.upPaths("198.19.92.2") == 1 })

	flow := udpFlow(t, "polylink", a, b, "198.19.92.2", 5004, stream.AudioProfile(500, 200, 4*time.Second))
	wait := measureInBackground(flow)
	time.Sleep(500 * time.Millisecond)

	// The new NIC's carrier comes up first (veth reports it up to a second
	// later); the measured moment is the address, which makes it usable.
	nstest.Veth(t, a, "eth1", "", b, "eth1", "")
	for _, ns := range []*testbed.Namespace{a, b} {
		waitFor(t, "eth1 operationally up in "+ns.Name, 5*time.Second, func() bool {
			out, _ := ns.Run("ip", "-o", "link", "show", "eth1")
			return strings.Contains(out, "state UP")
		})
	}
	if _, err := b.Run("ip", "addr", "add", "198.18.93.2/24", "dev", "eth1"); err != nil {
		t.Fatal(err)
	}
	added := time.Now()
	if _, err := a.Run("ip", "addr", "add", "198.18.93.1/24", "dev", "eth1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new path up", 5*time.Second, func() bool { return na.upPaths("198.19.92.2") == 2 })
	took := time.Since(added)
	t.Logf("new NIC's path up %v after its address was added (probe interval 50 ms; includes status polling)", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("new path took %v to come up, want about a round trip", took)
	}

	time.Sleep(500 * time.Millisecond)
	if _, err := a.Run("ip", "link", "del", "eth1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted NIC gone from status", 3*time.Second, func() bool { return len(na.status().Local) == 1 })
	if r := wait(t); r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("stream across NIC add and delete: sent %d lost %d duplicates %d", r.Sent, r.Lost, r.Duplicates)
	}
}

// measureInBackground runs flow while the test acts on the network; wait
// returns its result, failing the test if the measurement failed.
func measureInBackground(flow stream.Flow) (wait func(testing.TB) stream.Result) {
	done := make(chan struct{})
	var (
		res []stream.Result
		err error
	)
	go func() {
		defer close(done)
		res, err = stream.Measure(context.Background(), []stream.Flow{flow}, stream.Options{})
	}()
	return func(t testing.TB) stream.Result {
		t.Helper()
		<-done
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
}
