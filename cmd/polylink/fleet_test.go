//go:build fleet

package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"github.com/polylink/polylink/testbed/stream"
)

// A fleet on one router node: 100 hosts, each a polylink daemon in its own
// namespace, joined to one router daemon through two bridges in a hub
// namespace. Hosts 0 and 1 have two links and carry a stream through the
// router with 5 % random loss on each of their links, each way; the other
// hosts have one link and only probe. Heavier than the default suite (about
// two minutes), so behind a build tag:
//
//	go test -tags fleet -run TestFleet100 -v ./cmd/polylink
//	POLYLINK_FLEET_HOSTS=20 go test -tags fleet -run TestFleet100 -v ./cmd/polylink   # a smaller fleet
//
//	host i eth0 198.18.128.(i+2) ─ br0 ┐ hub ┌ br0 ─ r0 198.18.128.1  router 198.19.0.1
//	host i eth1 198.18.129.(i+2) ─ br1 ┘     └ br1 ─ r1 198.18.129.1  (hosts 0 and 1 only)
//	host i: 198.19.0.(i+2)

const (
	fleetStreamRate = 500 // packet/s of the stream between hosts 0 and 1
	fleetStreamFor  = 20 * time.Second
	fleetLossPerMil = 50 // per link and direction on the stream's hosts
)

func fleetSize(t *testing.T) int {
	n := 100
	if s := os.Getenv("POLYLINK_FLEET_HOSTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 2 || v > 250 {
			t.Fatalf("POLYLINK_FLEET_HOSTS=%q: want 2 to 250", s)
		}
		n = v
	}
	return n
}

// ipBatch runs `ip -batch -` with lines, in ns (nil: the test's namespace).
func ipBatch(t *testing.T, ns *testbed.Namespace, lines []string) {
	t.Helper()
	args := []string{"-batch", "-"}
	if ns != nil {
		args = append([]string{"-n", ns.Name}, args...)
	}
	c := exec.Command("ip", args...)
	c.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
}

// procRSS is a process's resident set in bytes (/proc/PID/status VmRSS).
func procRSS(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// cpuShare samples pid's CPU use (share of one core) over windows of d and
// returns their median.
func cpuShare(pid int, windows int, d time.Duration) float64 {
	var shares []float64
	for range windows {
		c0, t0 := cpuSeconds(pid), time.Now()
		time.Sleep(d)
		shares = append(shares, (cpuSeconds(pid)-c0)/time.Since(t0).Seconds())
	}
	slices.Sort(shares)
	return shares[len(shares)/2]
}

func TestFleet100(t *testing.T) {
	nstest.RequireRoot(t)
	n := fleetSize(t)
	begin := time.Now()
	hub, rtr := nstest.Namespace(t, "pl-fhub"), nstest.Namespace(t, "pl-frtr")
	hosts := make([]*testbed.Namespace, n)
	for i := range hosts {
		hosts[i] = nstest.Namespace(t, "pl-fh")
	}
	links := func(i int) int { return map[bool]int{true: 2, false: 1}[i < 2] }

	ipBatch(t, hub, []string{"link add br0 type bridge", "link add br1 type bridge", "link set br0 up", "link set br1 up"})
	veths := []string{
		fmt.Sprintf("link add r0 netns %s type veth peer name rt0 netns %s", rtr.Name, hub.Name),
		fmt.Sprintf("link add r1 netns %s type veth peer name rt1 netns %s", rtr.Name, hub.Name),
	}
	bridgePorts := []string{"link set rt0 master br0", "link set rt0 up", "link set rt1 master br1", "link set rt1 up"}
	for i, h := range hosts {
		for l := range links(i) {
			port := fmt.Sprintf("h%d-%d", i, l)
			veths = append(veths, fmt.Sprintf("link add eth%d netns %s type veth peer name %s netns %s", l, h.Name, port, hub.Name))
			bridgePorts = append(bridgePorts, fmt.Sprintf("link set %s master br%d", port, l), "link set "+port+" up")
		}
	}
	ipBatch(t, nil, veths)
	ipBatch(t, hub, bridgePorts)
	ipBatch(t, rtr, []string{"addr add 198.18.128.1/24 dev r0", "addr add 198.18.129.1/24 dev r1", "link set r0 up", "link set r1 up"})
	for i, h := range hosts {
		var cmds []string
		for l := range links(i) {
			cmds = append(cmds, fmt.Sprintf("addr add 198.18.%d.%d/24 dev eth%d", 128+l, i+2, l), fmt.Sprintf("link set eth%d up", l))
		}
		ipBatch(t, h, cmds)
	}
	t.Logf("%d host namespaces, %d veths and the hub built in %v", n, len(veths), time.Since(begin).Round(time.Millisecond))

	// The router alone first: its baseline CPU and memory.
	router := startNode(t, rtr, "--vip", "198.19.0.1/24", "--router")
	pid := router.status().PID
	time.Sleep(2 * time.Second)
	cpu0, rss0 := cpuShare(pid, 3, 2*time.Second), procRSS(t, pid)

	started := time.Now()
	nodes := make([]*node, n)
	for i, h := range hosts {
		args := []string{"--vip", fmt.Sprintf("198.19.0.%d/24", i+2), "--peer", "198.18.128.1"}
		if links(i) == 2 {
			args = append(args, "--peer", "198.18.129.1")
		}
		nodes[i] = startNode(t, h, args...)
	}
	t.Logf("%d host daemons started in %v", n, time.Since(started).Round(time.Millisecond))
	allJoined := func() (joined, pairUp int) {
		for _, h := range router.status().Hosts {
			up := 0
			for _, c := range h.Connections {
				if c.State == 2 {
					up++
				}
			}
			if up > 0 {
				joined++
			}
			if (h.VIP == "198.19.0.2" || h.VIP == "198.19.0.3") && up == 2 {
				pairUp++
			}
		}
		return joined, pairUp
	}
	waitFor(t, fmt.Sprintf("all %d hosts joined the router with a path up (the stream's two with 2)", n), 90*time.Second, func() bool {
		j, p := allJoined()
		return j == n && p == 2
	})
	t.Logf("all %d hosts joined %v after the first host started", n, time.Since(started).Round(time.Millisecond))
	for i, nd := range nodes {
		if up := nd.upPaths("198.19.0.1"); up != links(i) {
			t.Fatalf("host %d has %d paths up to the router, want %d", i, up, links(i))
		}
	}

	time.Sleep(2 * time.Second)
	cpuIdle, rssIdle := cpuShare(pid, 5, 3*time.Second), procRSS(t, pid)
	// The hosts' own cost, for scale: all their daemons over 5 s.
	var hostPIDs []int
	for _, nd := range nodes {
		hostPIDs = append(hostPIDs, nd.status().PID)
	}
	hostsCPU := func() (s float64) {
		for _, p := range hostPIDs {
			s += cpuSeconds(p)
		}
		return s
	}
	h0, t0 := hostsCPU(), time.Now()
	time.Sleep(5 * time.Second)
	hostsShare := (hostsCPU() - h0) / time.Since(t0).Seconds()

	// The stream's two hosts' links lose 5 % of the tunnel packets each
	// way, independently, in the hub's bridges (nftables numgen: no netem
	// here), the way a lossy radio link would.
	ports := `{ "h0-0", "h0-1", "h1-0", "h1-1" }`
	rules := fmt.Sprintf(`table bridge fleetloss {
	chain forward {
		type filter hook forward priority 0;
		iifname %[1]s ip protocol 4 numgen random mod 1000 < %[2]d counter drop
		oifname %[1]s ip protocol 4 numgen random mod 1000 < %[2]d counter drop
	}
}`, ports, fleetLossPerMil)
	c := hub.Command(t.Context(), "nft", "-f", "-")
	c.Stdin = strings.NewReader(rules)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s", hub.Name, err, out)
	}
	wait := runStream(t, udpFlow(t, "host 0 → host 1 via the router", hosts[0], hosts[1], "198.19.0.3", 7200,
		stream.AudioProfile(fleetStreamRate, 200, fleetStreamFor)))
	time.Sleep(time.Second)
	cpuStream, rssStream := cpuShare(pid, 4, 4*time.Second), procRSS(t, pid)
	o := wait()
	r := o.Analyze(stream.Options{})

	p := float64(fleetLossPerMil) / 1000
	hop := p * p                    // both copies of one hop lost
	expected := 1 - (1-hop)*(1-hop) // two hops: host 0 → router → host 1
	bound := math.Max(3*expected, expected+4*math.Sqrt(expected/float64(max(r.Sent, 1))))
	joined, _ := allJoined()
	for _, who := range []struct {
		name string
		n    *node
	}{{"router", router}, {"host 0", nodes[0]}, {"host 1", nodes[1]}} {
		st := who.n.status()
		for _, h := range st.Hosts {
			if h.LateDuplicates > 0 || h.VIP == "198.19.0.2" || h.VIP == "198.19.0.3" || h.VIP == "198.19.0.1" {
				t.Logf("%s: from %s delivered %d late duplicates %d skew %.1f ms", who.name, h.VIP, h.Delivered, h.LateDuplicates, h.SkewMs)
			}
		}
		t.Logf("%s counters: %+v", who.name, st.Counters)
	}
	var late []string
	for _, a := range o.Capture.Arrivals {
		if lat := time.Duration(a.RecvNS - a.SentNS); lat > 100*time.Millisecond && len(late) < 20 {
			late = append(late, fmt.Sprintf("seq %d %v", a.Seq, lat.Round(time.Millisecond)))
		}
	}
	t.Logf("late arrivals (first 20): %v", late)
	mb := func(b float64) float64 { return b / (1 << 20) }
	t.Logf("router with %d hosts: CPU %.2f %% of a core idle (alone %.2f %%: %.1f µs/s per host), %.2f %% during the stream; RSS %.1f MB (alone %.1f MB: %.1f KB per host), %.1f MB during the stream",
		n, 100*cpuIdle, 100*cpu0, 1e6*(cpuIdle-cpu0)/float64(n), 100*cpuStream, mb(rssIdle), mb(rss0), (rssIdle-rss0)/1024/float64(n), mb(rssStream))
	t.Logf("the %d host daemons idle: %.2f %% of a core in all, %.3f %% each", n, 100*hostsShare, 100*hostsShare/float64(n))
	t.Logf("stream host 0 → host 1 (%d packet/s, %v), each of their links losing %.1f %% each way: sent %d lost %d (%.3f %%; duplication limit ≈ %.3f %%, a single path ≈ %.1f %%) duplicates %d p50 %.3f ms p99 %.3f ms; %d of %d hosts joined at the end",
		fleetStreamRate, fleetStreamFor, 100*p, r.Sent, r.Lost, 100*r.LossRatio, 100*expected, 100*(1-(1-p)*(1-p)), r.Duplicates, r.Latency.P50, r.Latency.P99, joined, n)
	if r.Sent == 0 || r.Duplicates != 0 || r.LossRatio > bound {
		t.Errorf("stream: sent %d lost %.3f %% duplicates %d; want loss ≤ %.3f %% (the duplication limit, with sampling room) and no duplicates",
			r.Sent, 100*r.LossRatio, r.Duplicates, 100*bound)
	}
	if joined != n {
		t.Errorf("%d of %d hosts still joined after the stream", joined, n)
	}

	// Stop the hosts one by one (SIGTERM; node.stop fails the test after
	// 5 s): shutdown must stay quick with a hundred daemons on the machine.
	var stops []time.Duration
	for _, nd := range nodes {
		t0 := time.Now()
		nd.stop()
		stops = append(stops, time.Since(t0))
	}
	slices.Sort(stops)
	t.Logf("%d host daemons stopped one by one: median %v, slowest %v", n,
		stops[len(stops)/2].Round(time.Millisecond), stops[len(stops)-1].Round(time.Millisecond))
}
