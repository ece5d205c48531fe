package testbed_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// TestNATNetReachesTheServerOnEveryUplink pings the server from each
// robot through each uplink (ICMP passes the strict NATs), and through
// r1's IPv6-only uplink; a cut uplink does not answer.
func TestNATNetReachesTheServerOnEveryUplink(t *testing.T) {
	nstest.RequireRoot(t)
	n, err := testbed.UpNAT(testbed.NATOptions{Prefix: "pl-nat", V6Uplink: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	ping := func(r int, dev, dst string) error {
		// Three tries: one lost echo on a loaded machine is no failure.
		_, err := n.Robots[r].Run("ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", "-I", dev, dst)
		return err
	}
	for _, c := range []struct {
		r        int
		dev, dst string
	}{{0, "eth0", testbed.NATServerAddr}, {1, "eth0", testbed.NATServerAddr}, {1, "eth1", testbed.NATServerAddr},
		{0, "eth1", testbed.NATServerAddr6}} {
		if err := ping(c.r, c.dev, c.dst); err != nil {
			t.Errorf("robot %d via %s to %s: %v", c.r+1, c.dev, c.dst, err)
		}
	}
	if err := n.CutUplink(1, true); err != nil {
		t.Fatal(err)
	}
	if err := ping(1, "eth0", testbed.NATServerAddr); err == nil {
		t.Error("robot 2 reached the server through nat1 while its uplink was cut")
	}
	if err := n.CutUplink(1, false); err != nil {
		t.Fatal(err)
	}
	if err := ping(1, "eth0", testbed.NATServerAddr); err != nil {
		t.Errorf("after the cut: %v", err)
	}
}

// TestNATScenario runs `polylink testbed run nat` for real: nothing lost
// from either robot across the uplink cut and nat1's re-addressing, the
// server on nat1's new address afterwards, raw IP-in-IP found blocked.
func TestNATScenario(t *testing.T) {
	nstest.RequireRoot(t)
	if testing.Short() {
		t.Skip("runs a 12 s stream")
	}
	bin := polylinkBinary(t)
	run, err := testbed.RunNAT(t.Context(), testbed.NATRunOptions{Binary: bin, Prefix: "pl-natsc", Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	for r, res := range run.Results {
		if res.Sent < 5000 || res.Lost != 0 || res.Duplicates != 0 {
			t.Errorf("robot %d: sent %d lost %d duplicates %d; want 0 lost", r+1, res.Sent, res.Lost, res.Duplicates)
		}
		if !slices.ContainsFunc(run.MappedAfter[r], func(s string) bool { return strings.HasPrefix(s, testbed.NAT1NewPublic+":") }) {
			t.Errorf("robot %d: server's paths after the re-addressing %v, none through %s", r+1, run.MappedAfter[r], testbed.NAT1NewPublic)
		}
		if len(run.Blocked[r]) != 2 {
			t.Errorf("robot %d: IP-in-IP blocked on %v, want both uplinks", r+1, run.Blocked[r])
		}
	}
	t.Logf("followed in %v; before %v after %v", run.Followed, run.MappedBefore, run.MappedAfter)
}
