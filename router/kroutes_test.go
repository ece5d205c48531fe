package router

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// routesNet is a node namespace with a TUN and an uplink eth0
// (198.18.62.1/24) whose default route goes to a gateway namespace
// (198.18.62.2), which also holds the "far" address 198.18.99.9.
//
//	node: TUN 198.19.70.1/24, eth0 198.18.62.1 ─── gw: eth0 198.18.62.2, lo 198.18.99.9
type routesNet struct {
	node, gw *testbed.Namespace
	tun      *TUN
}

const farAddr = "198.18.99.9"

func newRoutesNet(t *testing.T) *routesNet {
	t.Helper()
	rn := &routesNet{node: nstest.Namespace(t, "pl-krt"), gw: nstest.Namespace(t, "pl-krt")}
	nstest.Veth(t, rn.node, "eth0", "198.18.62.1/24", rn.gw, "eth0", "198.18.62.2/24")
	for _, c := range [][]string{
		{"ip", "route", "add", "default", "via", "198.18.62.2", "dev", "eth0"},
	} {
		if _, err := rn.node.Run(c[0], c[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rn.gw.Run("ip", "addr", "add", farAddr+"/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	rn.tun = openTUNIn(t, rn.node, testConfig())
	return rn
}

// routeGet is `ip route get DST [ARGS]` in the node: the route the kernel
// picks.
func (rn *routesNet) routeGet(t *testing.T, dst string, args ...string) string {
	t.Helper()
	out, err := rn.node.Run("ip", append([]string{"-o", "route", "get", dst}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (rn *routesNet) install(t *testing.T, prefixes ...string) *KernelRoutes {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range prefixes {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	var k *KernelRoutes
	if err := rn.node.Do(func() (err error) {
		k, err = InstallRoutes(rn.tun.Index(), ps)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return k
}

func (rn *routesNet) rules(t *testing.T) string {
	t.Helper()
	out, err := rn.node.Run("ip", "rule", "list")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKernelRoutesSendPrefixesIntoTUN(t *testing.T) {
	rn := newRoutesNet(t)
	k := rn.install(t, "198.18.200.0/24", "0.0.0.0/0")
	table := fmt.Sprint(RouteTable(rn.tun.Index())) // ip rule prints it in decimal

	if got := rn.routeGet(t, "198.18.200.5"); !strings.Contains(got, "dev "+testTUNName) {
		t.Errorf("route to a --route prefix: %q, want dev %s", got, testTUNName)
	}
	if got := rn.routeGet(t, farAddr); !strings.Contains(got, "dev "+testTUNName) {
		t.Errorf("with 0.0.0.0/0 routed: %q, want dev %s", got, testTUNName)
	}
	// main's specific routes still win: the uplink's own subnet stays on it.
	if got := rn.routeGet(t, "198.18.62.2"); !strings.Contains(got, "dev eth0") {
		t.Errorf("route to the uplink's subnet: %q, want dev eth0", got)
	}
	// A lookup for a socket bound to eth0 skips the TUN's routes.
	if got := rn.routeGet(t, farAddr, "oif", "eth0"); !strings.Contains(got, "via 198.18.62.2 dev eth0") {
		t.Errorf("lookup bound to eth0: %q, want via 198.18.62.2 dev eth0", got)
	}
	// With the uplink's address as source (a socket bound to it, the
	// reverse-path check of what arrives on eth0), main alone decides.
	if got := rn.routeGet(t, farAddr, "from", "198.18.62.1"); !strings.Contains(got, "dev "+testTUNName) {
		t.Errorf("from the uplink's address before SetUplinks: %q, want the TUN (the test would prove nothing)", got)
	}
	if err := rn.node.Do(func() error { return k.SetUplinks([]netip.Addr{netip.MustParseAddr("198.18.62.1")}) }); err != nil {
		t.Fatal(err)
	}
	if got := rn.routeGet(t, farAddr, "from", "198.18.62.1"); !strings.Contains(got, "via 198.18.62.2 dev eth0") {
		t.Errorf("from the uplink's address: %q, want via 198.18.62.2 dev eth0", got)
	}
	rules := rn.rules(t)
	if !strings.Contains(rules, "32759:\tfrom 198.18.62.1 lookup main") {
		t.Errorf("no uplink rule:\n%s", rules)
	}
	if !strings.Contains(rules, "32760:\tfrom all lookup main suppress_prefixlength 0") ||
		!strings.Contains(rules, "32761:\tfrom all lookup "+table) {
		t.Errorf("rules after install:\n%s", rules)
	}

	// The real thing: a UDP datagram from an unbound socket goes into the
	// TUN; one from a socket bound to eth0 reaches the far address over the
	// uplink, not the TUN.
	var rx *net.UDPConn
	if err := rn.gw.Do(func() (err error) {
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(farAddr), Port: 7001})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	send := func(bind string) {
		t.Helper()
		if err := rn.node.Do(func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			if bind != "" {
				if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, bind); err != nil {
					return err
				}
			}
			return unix.Sendto(fd, []byte("polylink "+bind), 0, &unix.SockaddrInet4{Port: 7001, Addr: [4]byte{198, 18, 99, 9}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	send("")
	buf := make([]byte, 2048)
	n, err := rn.tun.Read(buf)
	if err != nil {
		t.Fatalf("unbound datagram to %s did not enter the TUN: %v", farAddr, err)
	}
	if h, ok := ParseIPv4(buf[:n]); !ok || h.Dst.String() != farAddr || h.Src.String() != testTUNAddr {
		t.Errorf("TUN read %+v ok=%v, want %s → %s", h, ok, testTUNAddr, farAddr)
	}
	send("eth0")
	rx.SetReadDeadline(time.Now().Add(ioTimeout))
	n, from, err := rx.ReadFromUDP(buf)
	if err != nil || string(buf[:n]) != "polylink eth0" || from.IP.String() != "198.18.62.1" {
		t.Fatalf("datagram bound to eth0: %q from %v, %v; want it at %s from 198.18.62.1", buf[:n], from, err, farAddr)
	}

	if err := rn.node.Do(k.Close); err != nil {
		t.Fatal(err)
	}
	if got := rn.routeGet(t, farAddr); !strings.Contains(got, "via 198.18.62.2 dev eth0") {
		t.Errorf("after Close: %q, want the default route via eth0 again", got)
	}
	if rules := rn.rules(t); strings.Contains(rules, "32759:") || strings.Contains(rules, "32760:") || strings.Contains(rules, "32761:") {
		t.Errorf("rules left after Close:\n%s", rules)
	}
	if err := rn.node.Do(k.Close); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestKernelRoutesStaleRulesRemoved: a daemon killed without Close leaves
// its rules; the next InstallRoutes removes them.
func TestKernelRoutesStaleRulesRemoved(t *testing.T) {
	rn := newRoutesNet(t)
	rn.install(t, "198.18.200.0/24") // never closed: a killed daemon
	oldTable := RouteTable(rn.tun.Index())
	rn.tun.Close()
	rn.tun = openTUNIn(t, rn.node, TUNConfig{Name: "pl-tun1", Prefix: testPrefix, MTU: testMTU})
	if rn.tun.Index() == oldTable-RouteTableBase {
		t.Skip("the kernel reused the ifindex")
	}
	k := rn.install(t, "198.18.201.0/24")
	rules := rn.rules(t)
	if strings.Contains(rules, fmt.Sprint(oldTable)) {
		t.Errorf("stale rule of table %#x left:\n%s", oldTable, rules)
	}
	if n := strings.Count(rules, "32761:"); n != 1 {
		t.Errorf("%d table rules, want 1:\n%s", n, rules)
	}
	if err := rn.node.Do(k.Close); err != nil {
		t.Fatal(err)
	}
	if rules := rn.rules(t); strings.Contains(rules, "3276") && strings.Contains(rules, "suppress") {
		t.Errorf("rules left after Close:\n%s", rules)
	}
}

// TestKernelRoutesSet changes the routes of a running node (a reload): only
// the difference changes; with none left the rules go, with new ones they
// come back with the uplink rules.
func TestKernelRoutesSet(t *testing.T) {
	rn := newRoutesNet(t)
	k := rn.install(t, "198.18.200.0/24")
	do := func(f func() error) {
		t.Helper()
		if err := rn.node.Do(f); err != nil {
			t.Fatal(err)
		}
	}
	uplink := netip.MustParseAddr("198.18.62.1")
	do(func() error { return k.SetUplinks([]netip.Addr{uplink}) })
	intoTUN := func(dst string) bool { return strings.Contains(rn.routeGet(t, dst), "dev "+testTUNName) }
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }

	do(func() error { return k.Set([]netip.Prefix{p("198.18.200.0/24"), p("198.18.201.0/24")}) })
	if !intoTUN("198.18.200.1") || !intoTUN("198.18.201.1") {
		t.Errorf("after adding a route: 200 into the TUN %v, 201 %v; want both", intoTUN("198.18.200.1"), intoTUN("198.18.201.1"))
	}
	do(func() error { return k.Set([]netip.Prefix{p("198.18.201.0/24")}) })
	if intoTUN("198.18.200.1") || !intoTUN("198.18.201.1") {
		t.Errorf("after removing a route: 200 into the TUN %v, 201 %v; want only 201", intoTUN("198.18.200.1"), intoTUN("198.18.201.1"))
	}
	do(func() error { return k.Set(nil) })
	if rules := rn.rules(t); strings.Contains(rules, "32759:") || strings.Contains(rules, "32760:") || strings.Contains(rules, "32761:") {
		t.Errorf("rules left with no routes:\n%s", rules)
	}
	do(func() error { return k.Set([]netip.Prefix{p("0.0.0.0/0")}) })
	if !intoTUN(farAddr) || !strings.Contains(rn.rules(t), "32759:\tfrom 198.18.62.1 lookup main") {
		t.Errorf("routes back: %q, rules:\n%s", rn.routeGet(t, farAddr), rn.rules(t))
	}
	do(k.Close)
}

// TestKernelRoutesTwoDaemonsShareRules: two TUNs with routes in one
// namespace share the suppress and uplink rules; the first to stop leaves
// them to the other, the last removes them.
func TestKernelRoutesTwoDaemonsShareRules(t *testing.T) {
	rn := newRoutesNet(t)
	other := openTUNIn(t, rn.node, TUNConfig{Name: "pl-tun2", Prefix: netip.MustParsePrefix("198.19.71.1/24"), MTU: testMTU})
	uplink := []netip.Addr{netip.MustParseAddr("198.18.62.1")}
	a := rn.install(t, "198.18.200.0/24")
	var b *KernelRoutes
	if err := rn.node.Do(func() (err error) {
		if err := a.SetUplinks(uplink); err != nil {
			return err
		}
		if b, err = InstallRoutes(other.Index(), []netip.Prefix{netip.MustParsePrefix("198.18.201.0/24")}); err != nil {
			return err
		}
		return b.SetUplinks(uplink)
	}); err != nil {
		t.Fatal(err)
	}
	if err := rn.node.Do(a.Close); err != nil {
		t.Fatal(err)
	}
	rules := rn.rules(t)
	if !strings.Contains(rules, "32759:\tfrom 198.18.62.1 lookup main") || !strings.Contains(rules, "suppress_prefixlength 0") ||
		!strings.Contains(rules, fmt.Sprint(RouteTable(other.Index()))) {
		t.Errorf("the second daemon lost its rules when the first stopped:\n%s", rules)
	}
	if got := rn.routeGet(t, "198.18.201.1"); !strings.Contains(got, "dev pl-tun2") {
		t.Errorf("the second daemon's route: %q", got)
	}
	if err := rn.node.Do(b.Close); err != nil {
		t.Fatal(err)
	}
	if rules := rn.rules(t); strings.Contains(rules, "32759:") || strings.Contains(rules, "32760:") || strings.Contains(rules, "32761:") {
		t.Errorf("rules left after both stopped:\n%s", rules)
	}
}
