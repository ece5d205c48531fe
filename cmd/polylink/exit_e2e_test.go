package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"github.com/polylink/polylink/testbed/stream"
)

// The exit, end to end: a robot with two uplinks through an ISP reaches an
// "Internet" host only through the router node's exit.
//
//	robot eth0 198.18.70.2 ─ a0 .70.1 ┐ ISP ┌ b0 .72.2 ─ eth0 198.18.72.1  router  eth2 198.18.74.1 ─ eth0 198.18.74.2 inet
//	robot eth1 198.18.71.2 ─ a1 .71.1 ┘     └ b1 .73.2 ─ eth1 198.18.73.1  (--exit)
//	      198.19.0.2, --route 0.0.0.0/0=198.19.0.1                198.19.0.1
//
// The robot's default routes go to the ISP (metric 100 via eth0, 200 via
// eth1), and it reaches the router's underlay addresses only through them;
// the ISP has no route to 198.18.74.0/24, so inet is reachable only through
// the tunnel and the router's NAT (inet has no route back to 198.19.0.0/24).
type exitNet struct {
	robot, isp, router, inet *testbed.Namespace
	nRobot, nRouter          *node
}

const (
	exitInet      = "198.18.74.2"
	exitRouterOut = "198.18.74.1"
	exitRouterVIP = "198.19.0.1"
	exitRobotVIP  = "198.19.0.2"
	exitMetrics   = "127.0.0.1:9469" // the router node's exporter, inside its namespace
)

func newExitNet(t *testing.T) *exitNet {
	t.Helper()
	nstest.RequireRoot(t)
	en := &exitNet{robot: nstest.Namespace(t, "pl-exr"), isp: nstest.Namespace(t, "pl-exi"),
		router: nstest.Namespace(t, "pl-exg"), inet: nstest.Namespace(t, "pl-exn")}
	nstest.Veth(t, en.robot, "eth0", "198.18.70.2/24", en.isp, "a0", "198.18.70.1/24")
	nstest.Veth(t, en.robot, "eth1", "198.18.71.2/24", en.isp, "a1", "198.18.71.1/24")
	nstest.Veth(t, en.router, "eth0", "198.18.72.1/24", en.isp, "b0", "198.18.72.2/24")
	nstest.Veth(t, en.router, "eth1", "198.18.73.1/24", en.isp, "b1", "198.18.73.2/24")
	nstest.Veth(t, en.router, "eth2", exitRouterOut+"/24", en.inet, "eth0", exitInet+"/24")
	run := func(ns *testbed.Namespace, args ...string) {
		t.Helper()
		if _, err := ns.Run(args[0], args[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	run(en.isp, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(en.robot, "ip", "route", "add", "default", "via", "198.18.70.1", "dev", "eth0", "metric", "100")
	run(en.robot, "ip", "route", "add", "default", "via", "198.18.71.1", "dev", "eth1", "metric", "200")
	// Strict reverse-path filtering on eth0 and the TUN, as many
	// distributions set it: the underlay's packets on eth0 and the replies
	// from the Internet on the TUN must pass it. eth1 gets the loose mode a
	// host with two default routes needs anyway (strict, its packets would
	// fail against the first default route, with or without polylink).
	run(en.robot, "sysctl", "-qw", "net.ipv4.conf.default.rp_filter=1")
	run(en.robot, "sysctl", "-qw", "net.ipv4.conf.eth0.rp_filter=1")
	run(en.robot, "sysctl", "-qw", "net.ipv4.conf.eth1.rp_filter=2")
	run(en.router, "ip", "route", "add", "198.18.70.0/24", "via", "198.18.72.2", "dev", "eth0")
	run(en.router, "ip", "route", "add", "198.18.71.0/24", "via", "198.18.73.2", "dev", "eth1")
	run(en.router, "ip", "route", "add", "default", "via", exitInet, "dev", "eth2")
	// Without polylink, inet is out of the robot's reach.
	if out, err := en.robot.Run("ping", "-c", "1", "-W", "1", exitInet); err == nil {
		t.Fatalf("the robot reaches %s without polylink: the test network is wrong\n%s", exitInet, out)
	}

	en.nRouter = startNode(t, en.router, "--vip", exitRouterVIP+"/24", "--router", "--exit", "--probe", "50ms",
		"--metrics", exitMetrics)
	en.nRobot = startNode(t, en.robot, "--vip", exitRobotVIP+"/24", "--peer", "198.18.72.1", "--peer", "198.18.73.1",
		"--route", "0.0.0.0/0="+exitRouterVIP, "--probe", "50ms")
	waitFor(t, "both paths up between robot and router, at both ends, with 0.0.0.0/0 routed into the TUN", 10*time.Second,
		func() bool { return en.nRobot.upPaths(exitRouterVIP) == 2 && en.nRouter.upPaths(exitRobotVIP) == 2 })
	return en
}

// routeGet is the robot kernel's route to dst (`ip route get`).
func routeGet(t *testing.T, ns *testbed.Namespace, dst string, args ...string) string {
	t.Helper()
	out, err := ns.Run("ip", append([]string{"-o", "route", "get", dst}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func TestExitStreamToInternetSurvivesLinkCut(t *testing.T) {
	en := newExitNet(t)

	// The underlay works although everything is routed into the tunnel: an
	// unbound socket would send even the router's underlay address into the
	// TUN, the robot's link sockets (bound to their NICs) go out their NICs.
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "dev pl0"},
		{[]string{"oif", "eth0"}, "via 198.18.70.1 dev eth0"},
		{[]string{"oif", "eth1"}, "via 198.18.71.1 dev eth1"},
	} {
		if got := routeGet(t, en.robot, "198.18.72.1", c.args...); !strings.Contains(got, c.want) {
			t.Errorf("robot's route to the router's underlay address %v: %q, want %q", c.args, got, c.want)
		}
	}
	if got := routeGet(t, en.robot, exitInet); !strings.Contains(got, "dev pl0") {
		t.Fatalf("robot's route to %s: %q, want into the TUN", exitInet, got)
	}

	out, err := en.robot.Run("ping", "-c", "3", "-i", "0.1", "-W", "2", exitInet)
	if err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("robot pings %s through the exit: %v\n%s", exitInet, err, out)
	}
	// inet sees the router's uplink address, not the robot's virtual one.
	var rx *net.UDPConn
	if err := en.inet.Do(func() (err error) {
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(exitInet), Port: 7100})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := en.robot.Do(func() error {
		c, err := net.Dial("udp4", exitInet+":7100")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	rx.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, from, err := rx.ReadFromUDP(buf); err != nil || from.IP.String() != exitRouterOut {
		t.Errorf("inet got %q from %v (%v); want it from the router's uplink address %s (masqueraded)", buf[:n], from, err, exitRouterOut)
	}

	// A stream to inet, with the robot's link 0 cut at the ISP mid-stream:
	// the ISP drops everything on it, as when a radio network's backhaul
	// fails. (Pulling the robot's carrier instead lets a copy sent in the
	// instant before the NIC is seen gone wait in the kernel's neighbour
	// queue until the link is back, a second later: beyond the 500 ms
	// duplicate window, so the router relays it a second time.)
	const streamFor = 6 * time.Second
	wait := runStream(t, udpFlow(t, "robot → inet via exit", en.robot, en.inet, exitInet, 7101,
		stream.AudioProfile(routerStreamRate, 200, streamFor)))
	time.Sleep(1500 * time.Millisecond)
	cut := time.Now()
	ispCut := `table inet cut { chain forward { type filter hook forward priority 0; iifname "a0" drop; oifname "a0" drop; }; }`
	c := en.isp.Command(t.Context(), "nft", "-f", "-")
	c.Stdin = strings.NewReader(ispCut)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("cut link 0 at the ISP: %v: %s", err, out)
	}
	waitFor(t, "router marks its path to the robot's eth0 down", 5*time.Second, func() bool {
		return pathState(en.nRouter, exitRobotVIP, "eth0", "198.18.70.2") == 0
	})
	t.Logf("link 0 cut: router saw its path down after %v", time.Since(cut).Round(time.Millisecond))
	time.Sleep(time.Second)
	if _, err := en.isp.Run("nft", "delete", "table", "inet", "cut"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both paths up again at both ends", 5*time.Second, func() bool {
		return en.nRobot.upPaths(exitRouterVIP) == 2 && en.nRouter.upPaths(exitRobotVIP) == 2
	})
	o := wait()
	r := o.Analyze(stream.Options{})
	t.Logf("robot → %s through the exit, link 0 cut for ~1 s: sent %d received %d lost %d duplicates %d p50 %.3f ms p99 %.3f ms",
		exitInet, r.Sent, r.Received, r.Lost, r.Duplicates, r.Latency.P50, r.Latency.P99)
	if r.Duplicates != 0 {
		seen, cutNS := map[uint64]int64{}, stream.Now()-int64(time.Since(cut))
		for _, a := range o.Capture.Arrivals {
			if first, ok := seen[a.Seq]; ok {
				t.Logf("duplicate seq %d: sent %v after the cut, copies %v apart", a.Seq,
					time.Duration(a.SentNS-cutNS).Round(time.Millisecond), time.Duration(a.RecvNS-first).Round(time.Millisecond))
			} else {
				seen[a.Seq] = a.RecvNS
			}
		}
		for _, nd := range []*node{en.nRobot, en.nRouter} {
			st := nd.status()
			for _, h := range st.Hosts {
				t.Logf("%s: host %s epoch %d delivered %d late duplicates %d skew %.1f ms", st.TUN.Addr, h.VIP, h.Epoch, h.Delivered, h.LateDuplicates, h.SkewMs)
			}
			t.Logf("%s counters %+v", st.TUN.Addr, st.Counters)
		}
	}
	if r.Sent == 0 || r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("stream through the exit with a link cut: sent %d lost %d duplicates %d; want 0 lost, 0 duplicates", r.Sent, r.Lost, r.Duplicates)
	}
	st := en.nRouter.status()
	if st.Exit == nil || !st.Router.Exit || !st.Exit.IPForward {
		t.Fatalf("router status has no working exit: router.exit %v, exit %+v", st.Router.Exit, st.Exit)
	}
	if st.Router.Counters.Exited < r.Sent || st.Exit.Masqueraded == 0 || st.Exit.Replies < 3 {
		t.Errorf("router exited %d packets (want ≥ %d), masqueraded %d flows (want > 0), let in %d replies (want ≥ 3)",
			st.Router.Counters.Exited, r.Sent, st.Exit.Masqueraded, st.Exit.Replies)
	}

	mfs := scrape(t, en.router, exitMetrics)
	for name, min := range map[string]float64{
		"polylink_router_exited_total":                float64(r.Sent),
		"polylink_exit_masqueraded_flows_total":       1,
		"polylink_exit_reply_packets_total":           3,
		"polylink_exit_refused_inbound_packets_total": 0,
	} {
		mf := mfs[name]
		if mf == nil || len(mf.Metric) != 1 || mf.Metric[0].GetCounter().GetValue() < min {
			t.Errorf("metric %s: %v, want one counter ≥ %v", name, mf, min)
		}
	}

	// Attack: inet routes the virtual network to the router and pings the
	// robot. Forwarding is on, but nothing outside may open a flow in.
	if _, err := en.inet.Run("ip", "route", "add", "198.19.0.0/24", "via", exitRouterOut); err != nil {
		t.Fatal(err)
	}
	if out, err := en.inet.Run("ping", "-c", "2", "-i", "0.1", "-W", "1", exitRobotVIP); err == nil {
		t.Errorf("an outside host reached the robot's virtual address through the exit:\n%s", out)
	}
	if st := en.nRouter.status(); st.Exit.Refused < 2 {
		t.Errorf("router refused %d inbound packets, want ≥ 2 (the pings)", st.Exit.Refused)
	}

	// Stopping the daemons removes what they put in the kernel.
	en.nRobot.stop()
	en.nRouter.stop()
	if rules, _ := en.robot.Run("ip", "rule", "list"); strings.Contains(rules, "suppress_prefixlength") || strings.Contains(rules, "32761:") {
		t.Errorf("robot's routing rules left after exit:\n%s", rules)
	}
	if tables, _ := en.router.Run("nft", "list", "tables"); strings.Contains(tables, "polylink") {
		t.Errorf("router's nftables table left after exit: %s", tables)
	}
	if got := routeGet(t, en.robot, exitInet); !strings.Contains(got, "dev eth0") {
		t.Errorf("robot's route to %s after exit: %q, want its own default route again", exitInet, got)
	}
}
