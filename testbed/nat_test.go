package testbed_test

import (
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
		_, err := n.Robots[r].Run("ping", "-n", "-q", "-c", "1", "-W", "2", "-I", dev, dst)
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
