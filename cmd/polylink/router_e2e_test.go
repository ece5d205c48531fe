package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"github.com/polylink/polylink/testbed/stream"
	"github.com/polylink/polylink/wire"
)

// End-to-end tests of the router node, in the testbed's topology:
//
//	VM0 eth0 198.18.0.2 ─[net0]─ eth0 198.18.0.3  VM1  eth2 198.18.2.3 ─[net2]─ eth0 198.18.2.2 VM2
//	VM0 eth1 198.18.1.2 ─[net1]─ eth1 198.18.1.3 router eth3 198.18.3.3 ─[net3]─ eth1 198.18.3.2
//	   198.19.0.2                           198.19.0.1                             198.19.0.3
//
// VM0 and VM2 only know the router's underlay addresses (--peer); VM1 runs
// `polylink run --router` and relays between them by virtual destination.
// Every net has a userspace emulator in its middle namespace, which cuts it.

// routerStreamRate is the test streams' rate in packet/s (200 B each).
const routerStreamRate = 500

// routerNet is the testbed with a daemon on each host.
type routerNet struct {
	top           *testbed.Topology
	vm0, vm1, vm2 *node
	routerArgs    []string
}

var (
	vipRouter = testbed.VM1.Virtual().Addr().String()
	vipVM0    = testbed.VM0.Virtual().Addr().String()
	vipVM2    = testbed.VM2.Virtual().Addr().String()
)

// newRouterNet builds the testbed, starts the three daemons (the router
// with routerExtra flags too) and waits until every path is up at both
// ends. The daemons stop before the testbed is taken down, and the test
// fails if a namespace of it is left behind.
func newRouterNet(t *testing.T, routerExtra ...string) *routerNet {
	t.Helper()
	return newRouterNetWith(t, routerExtra, nil, nil)
}

// newRouterNetWith is newRouterNet with extra flags for each host too.
func newRouterNetWith(t *testing.T, routerExtra, vm0Extra, vm2Extra []string) *routerNet {
	t.Helper()
	begin := time.Now()
	rn := startRouterNet(t, routerExtra, vm0Extra, vm2Extra)
	rn.waitAllUp(t, 5*time.Second)
	t.Logf("testbed %s up and all four paths in state 2 at both ends in %v", rn.top.Prefix, time.Since(begin).Round(time.Millisecond))
	return rn
}

// startRouterNet is newRouterNetWith without waiting for the paths.
func startRouterNet(t *testing.T, routerExtra, vm0Extra, vm2Extra []string) *routerNet {
	t.Helper()
	nstest.RequireRoot(t)
	stateDir := t.TempDir() // first: removed after everything below
	prefix := testbed.UniqueName("pl-rt")
	t.Cleanup(func() { assertNoNamespaces(t, prefix) })
	top, err := testbed.Up(t.Context(), testbed.UpOptions{Prefix: prefix, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := top.Down(); err != nil {
			t.Error(err)
		}
	})
	rn := &routerNet{top: top, routerArgs: append([]string{"--vip", testbed.VM1.Virtual().String(), "--router",
		"--probe", "50ms", "--host-timeout", "2s"}, routerExtra...)}
	rn.vm1 = startNode(t, top.Host(testbed.VM1), rn.routerArgs...)
	rn.vm0 = startNode(t, top.Host(testbed.VM0),
		append([]string{"--vip", testbed.VM0.Virtual().String(), "--peer", "198.18.0.3", "--peer", "198.18.1.3", "--probe", "50ms"}, vm0Extra...)...)
	rn.vm2 = startNode(t, top.Host(testbed.VM2),
		append([]string{"--vip", testbed.VM2.Virtual().String(), "--peer", "198.18.2.3", "--peer", "198.18.3.3", "--probe", "50ms"}, vm2Extra...)...)
	return rn
}

// waitAllUp waits until the router has two paths in state 2 to each host
// and each host two to the router.
func (rn *routerNet) waitAllUp(t *testing.T, d time.Duration) {
	t.Helper()
	waitFor(t, "two paths up between the router and each host, at both ends", d, func() bool {
		return rn.vm1.upPaths(vipVM0) == 2 && rn.vm1.upPaths(vipVM2) == 2 &&
			rn.vm0.upPaths(vipRouter) == 2 && rn.vm2.upPaths(vipRouter) == 2
	})
}

// assertNoNamespaces fails the test if a namespace named prefix-… exists.
func assertNoNamespaces(t *testing.T, prefix string) {
	out, err := testbed.Cmd("ip", "netns", "list")
	if err != nil {
		t.Errorf("ip netns list: %v", err)
		return
	}
	if strings.Contains(out, prefix+"-") {
		t.Errorf("namespaces of %s left behind:\n%s", prefix, out)
	}
}

// pathEnds names, for net i, the router's connection (host vip, local NIC,
// remote address) and the host's connection to the router over it.
type pathEnds struct {
	hostVIP, routerDev, hostAddr string // the router's view
	hostDev, routerAddr          string // the host's view
}

func netPath(i int) pathEnds {
	r, h := testbed.Nets[i].Left, testbed.Nets[i].Right
	if h.Host == testbed.VM1 {
		r, h = h, r
	}
	return pathEnds{hostVIP: h.Host.Virtual().Addr().String(), routerDev: r.Dev, hostAddr: h.Addr.Addr().String(),
		hostDev: h.Dev, routerAddr: r.Addr.Addr().String()}
}

// pathState is the state of n's connection to host vip from local NIC dev
// to remote address addr, -1 if there is none.
func pathState(n *node, vip, dev, addr string) int {
	for _, h := range n.status().Hosts {
		if h.VIP != vip {
			continue
		}
		for _, c := range h.Connections {
			if c.Local == dev && c.RemoteAddr == addr {
				return c.State
			}
		}
	}
	return -1
}

// hostVIPs lists the hosts in n's host table.
func hostVIPs(n *node) []string {
	var vips []string
	for _, h := range n.status().Hosts {
		vips = append(vips, h.VIP)
	}
	return vips
}

func hasHost(n *node, vip string) bool {
	for _, v := range hostVIPs(n) {
		if v == vip {
			return true
		}
	}
	return false
}

// runStream runs flow in the background; wait returns its outcome.
func runStream(t *testing.T, flow stream.Flow) (wait func() stream.Outcome) {
	var (
		out []stream.Outcome
		err error
		wg  sync.WaitGroup
	)
	wg.Go(func() { out, err = stream.RunFlows(context.Background(), []stream.Flow{flow}, 500*time.Millisecond) })
	return func() stream.Outcome {
		t.Helper()
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
}

// vm0ToVM2 opens a 500 packet/s × 200 B stream from VM0 to VM2's virtual
// address, through the router.
func (rn *routerNet) vm0ToVM2(t *testing.T, port int, d time.Duration) stream.Flow {
	return udpFlow(t, "polylink via router", rn.top.Host(testbed.VM0), rn.top.Host(testbed.VM2), vipVM2, port,
		stream.AudioProfile(routerStreamRate, 200, d))
}

// lostSpan returns the first and last lost sequence numbers of an outcome
// (ok false when nothing was lost).
func lostSpan(o stream.Outcome) (first, last uint64, ok bool) {
	got := make([]bool, o.Sent.Sent)
	for _, a := range o.Capture.Arrivals {
		if a.Seq < uint64(len(got)) {
			got[a.Seq] = true
		}
	}
	for seq, g := range got {
		if g {
			continue
		}
		if !ok {
			first, ok = uint64(seq), true
		}
		last = uint64(seq)
	}
	return first, last, ok
}

// seqTime is when packet seq of a routerStreamRate stream was due.
func seqTime(o stream.Outcome, seq uint64) int64 {
	return o.Sent.StartNS + int64(seq)*int64(time.Second)/routerStreamRate
}

func TestRouterRelaysPingAndShowsHosts(t *testing.T) {
	rn := newRouterNet(t)
	out, err := rn.top.Host(testbed.VM0).Run("ping", "-c", "5", "-i", "0.1", "-W", "1", vipVM2)
	if err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("VM0 pings VM2 through the router: %v\n%s", err, out)
	}

	st := rn.vm1.status()
	if !st.Router.Relay {
		t.Errorf("router node's status does not say it relays (router.relay false)")
	}
	if got := hostVIPs(rn.vm1); len(got) != 2 || got[0] != vipVM0 || got[1] != vipVM2 {
		t.Fatalf("router's hosts: %v, want [%s %s]", got, vipVM0, vipVM2)
	}
	for _, h := range st.Hosts {
		for _, c := range h.Connections {
			if c.State == 2 {
				t.Logf("router path to %s: %s → %s rtt %.3f ms", h.VIP, c.Local, c.RemoteAddr, c.RTTMs)
			}
		}
		if h.Gateway {
			t.Errorf("router marks host %s as its gateway; a router node has none", h.VIP)
		}
	}
	for i := range testbed.Nets {
		p := netPath(i)
		if s := pathState(rn.vm1, p.hostVIP, p.routerDev, p.hostAddr); s != 2 {
			t.Errorf("router's path over %s (%s → %s) in state %d, want 2", testbed.Nets[i].Name, p.routerDev, p.hostAddr, s)
		}
	}
	// Each ping request and reply crossed the router: ≥ 10 relayed.
	if f := st.Router.Counters.Forwarded; f < 10 {
		t.Errorf("router forwarded %d packets, want ≥ 10 (5 requests, 5 replies)", f)
	}

	for _, h := range []struct {
		n    *node
		name string
	}{{rn.vm0, "VM0"}, {rn.vm2, "VM2"}} {
		hs := h.n.status().Hosts
		if len(hs) != 1 || hs[0].VIP != vipRouter || !hs[0].Gateway {
			t.Fatalf("%s's hosts: %+v, want only the router %s as gateway", h.name, hs, vipRouter)
		}
		if up := h.n.upPaths(vipRouter); up != 2 {
			t.Errorf("%s has %d paths up to the router, want 2", h.name, up)
		}
	}
}

func TestRouterStreamSurvivesEachLinkCut(t *testing.T) {
	rn := newRouterNet(t)
	const streamFor = 9 * time.Second
	wait := runStream(t, rn.vm0ToVM2(t, 6001, streamFor))
	begin := time.Now()

	time.Sleep(500 * time.Millisecond) // the stream under way before the first cut
	for i := range testbed.Nets {
		p, name, emu := netPath(i), testbed.Nets[i].Name, rn.top.Emulator(i)
		cut := time.Now()
		emu.SetDown(true)
		waitFor(t, "router marks the path over "+name+" down", 3*time.Second, func() bool {
			return pathState(rn.vm1, p.hostVIP, p.routerDev, p.hostAddr) == 0
		})
		seen := time.Since(cut)
		time.Sleep(time.Second - seen) // hold the cut ~1 s
		emu.SetDown(false)
		restore := time.Now()
		waitFor(t, "path over "+name+" back in state 2 at both ends", 3*time.Second, func() bool {
			return pathState(rn.vm1, p.hostVIP, p.routerDev, p.hostAddr) == 2 &&
				pathState(hostNode(rn, p.hostVIP), vipRouter, p.hostDev, p.routerAddr) == 2
		})
		t.Logf("%s cut: router marked %s → %s down after %v (dead interval 150 ms); up at both ends %v after restore",
			name, p.routerDev, p.hostAddr, seen.Round(time.Millisecond), time.Since(restore).Round(time.Millisecond))
	}
	if left := streamFor - time.Since(begin); left < 200*time.Millisecond {
		t.Fatalf("the four cuts took %v, leaving %v of the %v stream: not all cuts were mid-stream",
			time.Since(begin).Round(time.Millisecond), left, streamFor)
	}

	o := wait()
	r := o.Analyze(stream.Options{})
	t.Logf("stream through 4 successive cuts: sent %d received %d lost %d duplicates %d p50 %.3f ms p99 %.3f ms max %.3f ms",
		r.Sent, r.Received, r.Lost, r.Duplicates, r.Latency.P50, r.Latency.P99, r.Latency.Max)
	if r.Sent == 0 || r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("one link cut at a time: sent %d lost %d duplicates %d; want 0 lost, 0 duplicates", r.Sent, r.Lost, r.Duplicates)
	}
	if c := rn.vm1.status().Router.Counters; c.Forwarded < r.Sent {
		t.Errorf("router forwarded %d packets, fewer than the %d the stream sent through it", c.Forwarded, r.Sent)
	}
}

// hostNode is the daemon of the host with virtual address vip.
func hostNode(rn *routerNet, vip string) *node {
	if vip == vipVM0 {
		return rn.vm0
	}
	return rn.vm2
}

func TestRouterRestartMidStreamResumes(t *testing.T) {
	rn := newRouterNet(t)
	const streamFor = 6 * time.Second
	wait := runStream(t, rn.vm0ToVM2(t, 6002, streamFor))
	time.Sleep(1500 * time.Millisecond)

	oldEpoch := rn.vm1.status().Epoch
	down := stream.Now()
	oldLog := rn.vm1.out
	rn.vm1.stop()
	stopped := stream.Now()
	if d := time.Duration(stopped - down); d > 250*time.Millisecond {
		t.Logf("router took %v to stop after SIGTERM; its log:\n%s", d.Round(time.Millisecond), oldLog.String())
	}
	rn.vm1.start() // returns once the new daemon answers status
	back := stream.Now()
	rn.waitAllUp(t, 5*time.Second)
	handshaken := stream.Now()
	t.Logf("router stopped in %v, started in %v; all paths up again %v after it was back",
		time.Duration(stopped-down).Round(time.Millisecond), time.Duration(back-stopped).Round(time.Millisecond),
		time.Duration(handshaken-back).Round(time.Millisecond))

	o := wait()
	if back+int64(1500*time.Millisecond) > o.Sent.EndNS {
		t.Fatalf("router back only %v before the stream's end: too late to see the stream whole again",
			time.Duration(o.Sent.EndNS-back).Round(time.Millisecond))
	}
	r := o.Analyze(stream.Options{Windows: []stream.Window{
		stream.WindowSince("router back + 1 s", o.Sent.StartNS, back+int64(time.Second), o.Sent.EndNS+1),
	}})
	first, last, lost := lostSpan(o)
	if !lost {
		t.Errorf("nothing lost while the router was down: the stream cannot have crossed it")
	} else {
		resumed := int64(0)
		for _, a := range o.Capture.Arrivals {
			if a.Seq > last {
				resumed = a.RecvNS
				break
			}
		}
		t.Logf("router restart: %d packets lost, gap %v (seq %d..%d; longest burst %d × 2 ms); first lost due %v after SIGTERM; stream resumed %v after the router answered status",
			r.Lost, time.Duration(seqTime(o, last)-seqTime(o, first)+int64(time.Second)/routerStreamRate).Round(time.Millisecond),
			first, last, r.LongestLossBurst, time.Duration(seqTime(o, first)-down).Round(time.Millisecond),
			time.Duration(resumed-back).Round(time.Millisecond))
	}
	if r.Duplicates != 0 {
		t.Errorf("application saw %d duplicates", r.Duplicates)
		logDuplicates(t, o, back, rn.vm1, rn.vm2)
	}
	if w := r.Windows[0]; w.Sent == 0 || w.Lost != 0 {
		t.Fatalf("from 1 s after the router was back: sent %d lost %d; want the stream whole again", w.Sent, w.Lost)
	}
	st := rn.vm1.status()
	if st.Epoch == oldEpoch {
		t.Errorf("router kept epoch %d across a restart", st.Epoch)
	}
	for _, h := range []*node{rn.vm0, rn.vm2} {
		if hs := h.status().Hosts; len(hs) != 1 || hs[0].Epoch != st.Epoch {
			t.Errorf("host should know the router by its new epoch %d: %+v", st.Epoch, hs)
		}
	}
}

func TestRouterForgetsVanishedHostAndTakesItBack(t *testing.T) {
	rn := newRouterNet(t)
	const hostTimeout = 2 * time.Second

	sigterm := time.Now()
	rn.vm2.stop()
	stopped := time.Since(sigterm)
	waitFor(t, "router forgets VM2", hostTimeout+2*time.Second, func() bool { return !hasHost(rn.vm1, vipVM2) })
	gone := time.Since(sigterm)
	t.Logf("VM2 stopped in %v; gone from the router's host table %v after SIGTERM (host timeout %v, probe 50 ms)",
		stopped.Round(time.Millisecond), gone.Round(time.Millisecond), hostTimeout)
	// VM2 probed every 50 ms until SIGTERM: it cannot be forgotten much
	// before the host timeout has run from then.
	if gone < hostTimeout-500*time.Millisecond {
		t.Errorf("VM2 forgotten %v after it stopped, before the %v host timeout", gone, hostTimeout)
	}
	if got := hostVIPs(rn.vm1); len(got) != 1 || got[0] != vipVM0 || rn.vm1.upPaths(vipVM0) != 2 {
		t.Fatalf("router should still hold VM0 with 2 paths up, and only it: hosts %v", got)
	}

	// Without VM2 the router has no route for its address: VM0's ping fails.
	noRoute := rn.vm1.status().Router.Counters.NoRoute
	if out, err := rn.top.Host(testbed.VM0).Run("ping", "-c", "1", "-W", "1", vipVM2); err == nil {
		t.Errorf("ping to a forgotten host succeeded:\n%s", out)
	}
	if n := rn.vm1.status().Router.Counters.NoRoute; n <= noRoute {
		t.Errorf("router's no-route counter stayed at %d for a ping to a forgotten host", n)
	}

	restart := time.Now()
	rn.vm2.start()
	rn.waitAllUp(t, 5*time.Second)
	t.Logf("VM2 restarted: both its paths up at both ends %v after start", time.Since(restart).Round(time.Millisecond))
	out, err := rn.top.Host(testbed.VM0).Run("ping", "-c", "3", "-i", "0.1", "-W", "1", vipVM2)
	if err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("VM0 pings VM2 after it came back: %v\n%s", err, out)
	}
}

func TestRouterHostTableBoundedUnderForgedHosts(t *testing.T) {
	const maxHosts = 8
	rn := newRouterNet(t, "--max-hosts", fmt.Sprint(maxHosts))
	wait := runStream(t, rn.vm0ToVM2(t, 6003, 4*time.Second))
	time.Sleep(300 * time.Millisecond)

	// A stranger in VM0's namespace sends well-formed probes, each from a
	// new forged host, to the router's eth0.
	var fd int
	if err := rn.top.Host(testbed.VM0).Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_IPIP)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	dst := &unix.SockaddrInet4{Addr: [4]byte(net.ParseIP("198.18.0.3").To4())}
	rng := rand.New(rand.NewPCG(1, 2))
	virtual := testbed.VirtualNet
	var pkt [wire.HeaderLen + wire.ProbeLen]byte
	const forged, perMs = 4000, 2 // 2 s at 2,000 packet/s
	maxSeen, sendErrs, outside := 0, 0, 0
	for i := range forged {
		// Three in four claim a free host address of the virtual network
		// (.4 to .254) and fill the table; the rest claim addresses outside
		// it, which the router refuses before learning anything.
		host := netip.AddrFrom4([4]byte{198, 19, 0, byte(4 + rng.IntN(251))})
		if i%4 == 3 {
			outside++
			for virtual.Contains(host) {
				host = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			}
		}
		h := wire.Header{State: uint8(rng.IntN(3)), Kind: wire.KindProbe, Host: host, SrcIndex: rng.Uint32()}
		p := wire.Probe{SendTime: 1, Seq: rng.Uint32(), Epoch: rng.Uint32() | 1}
		if h.Encode(pkt[:]) != nil || p.Encode(pkt[wire.HeaderLen:]) != nil {
			t.Fatal("encode forged probe")
		}
		if err := unix.Sendto(fd, pkt[:], 0, dst); err != nil {
			sendErrs++
		}
		if i%perMs == perMs-1 {
			time.Sleep(time.Millisecond)
		}
		if i%200 == 0 {
			maxSeen = max(maxSeen, len(rn.vm1.status().Hosts))
		}
	}
	maxSeen = max(maxSeen, len(rn.vm1.status().Hosts))

	o := wait()
	r := o.Analyze(stream.Options{})
	st := rn.vm1.status()
	t.Logf("%d forged hosts sent (%d send errors); router: at most %d hosts seen, %d evicted, %d packets dropped as unknown host, %d of %d outside the network refused; stream sent %d lost %d duplicates %d",
		forged, sendErrs, maxSeen, st.Counters.HostsEvicted, st.Counters.UnknownHost, st.Router.Counters.BadHost, outside, r.Sent, r.Lost, r.Duplicates)
	if maxSeen > maxHosts || len(st.Hosts) > maxHosts {
		t.Errorf("router's host table grew to %d (now %d), beyond --max-hosts %d", maxSeen, len(st.Hosts), maxHosts)
	}
	// Forged hosts never answer the router's probes, so each newcomer evicts
	// the oldest of them and the proven hosts keep their places.
	if st.Counters.HostsEvicted == 0 {
		t.Errorf("the flood never filled the table: %d evicted", st.Counters.HostsEvicted)
	}
	if bad := st.Router.Counters.BadHost; bad == 0 || bad > uint64(outside) {
		t.Errorf("router refused %d claims to addresses outside the virtual network; %d were sent", bad, outside)
	}
	if !hasHost(rn.vm1, vipVM0) || !hasHost(rn.vm1, vipVM2) || rn.vm1.upPaths(vipVM0) != 2 || rn.vm1.upPaths(vipVM2) != 2 {
		t.Errorf("the real hosts lost their place or paths: hosts %v", hostVIPs(rn.vm1))
	}
	if r.Sent == 0 || r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("real stream under the flood: sent %d lost %d duplicates %d; want 0 lost, 0 duplicates", r.Sent, r.Lost, r.Duplicates)
	}
	// The router answers each forged probe to VM0's eth0 with a reply
	// naming a NIC index VM0 does not have: dropped as misdirected, and
	// in any case no RTT sample, since it answers no probe VM0 sent.
	for _, c := range rn.vm0.status().Hosts[0].Connections {
		if c.State == 2 {
			t.Logf("VM0's path %s → %s after the flood: srtt %.3f ms", c.Local, c.RemoteAddr, c.RTTMs)
			if c.RTTMs > 250 { // a forged sample would read as seconds; load alone stays far below
				t.Errorf("forged replies skewed VM0's RTT on %s: %.1f ms", c.Local, c.RTTMs)
			}
		}
	}
}

// logDuplicates says when each duplicated packet arrived (both copies,
// relative to the router's return) and what the daemons counted: which
// of them let a copy through twice (a dedup window reset, a relay that
// forwarded twice) is the question a duplicate raises.
func logDuplicates(t *testing.T, o stream.Outcome, back int64, nodes ...*node) {
	t.Helper()
	seen := map[uint64]int64{}
	shown := 0
	for _, a := range o.Capture.Arrivals {
		first, dup := seen[a.Seq]
		if !dup {
			seen[a.Seq] = a.RecvNS
			continue
		}
		if shown++; shown <= 20 {
			t.Logf("seq %d: sent %+.1f ms, copies at %+.1f and %+.1f ms after the router was back", a.Seq,
				float64(a.SentNS-back)/1e6, float64(first-back)/1e6, float64(a.RecvNS-back)/1e6)
		}
	}
	for _, n := range nodes {
		if raw, err := queryControl(n.control); err == nil {
			t.Logf("status at %s: %s", n.control, raw)
		}
	}
}
