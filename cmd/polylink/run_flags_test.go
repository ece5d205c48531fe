package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRunFlagsRejectBadUsage(t *testing.T) {
	for i, c := range []struct {
		args []string
		want string
	}{
		{nil, "--vip is required"},
		{[]string{"--vip", "198.19.0.2"}, "prefix length"},
		{[]string{"--vip", "2001:db8::1/64", "--peer", "198.18.0.3"}, "IPv4"},
		{[]string{"--vip", "198.19.0.0/24", "--peer", "198.18.0.3"}, "host address"},
		{[]string{"--vip", "198.19.0.2/24"}, "at least one --peer"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "banana"}, "--peer \"banana\""},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.19.0.3"}, "inside the virtual network"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--probe", "1ms"}, "--probe"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--tun", "a-very-long-device-name"}, "--tun"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--route", "nonsense"}, "--route"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--log", "xml"}, "--log"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--bogus"}, "flag provided but not defined"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "extra"}, "unexpected argument"},
		// Found by a new user: each of these parsed, then failed later or
		// ran in a way that could not work.
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--tun", "a/b"}, "--tun \"a/b\""},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--tun", "a:b"}, "without '/', ':'"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--exclude", "["}, "--exclude \"[\""},
		{[]string{"--vip", "198.19.0.1/24", "--router", "--route", "198.19.5.0/24=198.18.0.7"}, "next hop must be another host of the virtual network 198.19.0.0/24"},
		{[]string{"--vip", "198.19.0.1/24", "--router", "--route", "198.19.5.0/24=198.19.0.255"}, "next hop must be"},
		{[]string{"--vip", "198.19.0.1/24", "--router", "--route", "198.19.5.0/24=198.19.0.1"}, "next hop must be"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--host-timeout", "1ms"}, "--host-timeout 1ms: want at least 600ms"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--probe", "1s", "--host-timeout", "5s"}, "want at least 6s"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--control", "/nonexistent/dir/x.sock"}, "directory /nonexistent/dir does not exist"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--class", "fast:udp"}, "--class"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--class", "bulk:icmp:80"}, "only for tcp and udp"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--redundancy", "some"}, "--redundancy"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--metered", "wwan["}, "--metered"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--metered-grace", "-1s"}, "--metered-grace"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--second-copy", "1s"}, "--second-copy"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--metered-budget", "lots"}, "--metered-budget"},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--metered-budget", "-1GB"}, "--metered-budget"},
	} {
		_, err := parseRunFlags(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d %v: error %v, want one mentioning %q", i, c.args, err, c.want)
			continue
		}
		if exitCode(err) != exitUsage || strings.Contains(err.Error(), "\n") {
			t.Errorf("case %d: want one line and exit code %d, got %q (%d)", i, exitUsage, err, exitCode(err))
		}
	}
}

func TestRunFlagsDefaults(t *testing.T) {
	c, err := parseRunFlags([]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--peer", "198.18.1.3"})
	if err != nil {
		t.Fatal(err)
	}
	if c.tun != "pl0" || c.probe != 100*time.Millisecond || c.mtu != 1464 || c.control != "/run/polylink/pl0.sock" ||
		len(c.peers) != 2 || c.relay {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = parseRunFlags([]string{"--vip", "198.19.0.1/24", "--router", "--route", "198.19.5.0/24=198.19.0.7"})
	if err != nil || !c.relay || len(c.routes) != 1 || c.routes[0].Via.String() != "198.19.0.7" {
		t.Fatalf("router with a route: %+v, %v", c, err)
	}
	c, err = parseRunFlags([]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3"})
	if pol := c.policy.engine(); err != nil || pol.CopyAll || pol.SecondCopy != 0 || len(pol.Metered) != 0 || pol.MeteredGrace != 10*time.Second {
		t.Fatalf("policy defaults: %+v, %v", c.policy, err)
	}
	c, err = parseRunFlags([]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--redundancy", "all",
		"--metered", "wwan*", "--metered", "eth1", "--class", "bulk:udp:443", "--second-copy", "off", "--metered-grace", "0s"})
	if pol := c.policy.engine(); err != nil || !pol.CopyAll || pol.SecondCopy >= 0 || len(pol.Metered) != 2 || pol.MeteredGrace >= 0 ||
		len(pol.Classifier.Rules()) != 1 {
		t.Fatalf("policy flags: %+v, %v", c.policy, err)
	}
}

func TestPeerOnThisMachineRefused(t *testing.T) {
	// 127.0.0.1 is on lo, in every namespace.
	err := checkPeersNotLocal([]netip.Addr{netip.MustParseAddr("198.18.0.3"), netip.MustParseAddr("127.0.0.1")})
	if err == nil || !strings.Contains(err.Error(), "--peer 127.0.0.1 is an address of this machine") || exitCode(err) != exitUsage {
		t.Fatalf("a peer that is this machine's address: %v (exit %d), want a usage error naming it", err, exitCode(err))
	}
	if err := checkPeersNotLocal([]netip.Addr{netip.MustParseAddr("198.18.0.3")}); err != nil {
		t.Fatalf("a peer elsewhere refused: %v", err)
	}
}

func TestDispatchExitCodes(t *testing.T) {
	if got := dispatch([]string{"bogus"}); got != exitUsage {
		t.Errorf("unknown command: exit %d, want %d", got, exitUsage)
	}
	if got := dispatch([]string{"version"}); got != 0 {
		t.Errorf("version: exit %d, want 0", got)
	}
	if got := dispatch([]string{"status", "--control", "/nonexistent/pl.sock"}); got != exitFailure {
		t.Errorf("status without a daemon: exit %d, want %d", got, exitFailure)
	}
}
