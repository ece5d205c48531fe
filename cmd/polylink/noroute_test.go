package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed/nstest"
)

// TestStatusSaysWhichNICHasNoRouteToAPeer: a robot with two uplinks and a
// default route through only one of them. The socket pinned to the other
// would send into the void; status must say so, and stop saying it once
// that NIC gets a route of its own.
//
//	A eth0 198.18.96.1/24 ── gw 198.18.96.2   default via 198.18.96.2 dev eth0
//	A eth1 198.18.97.1/24 ── gw 198.18.97.2   (no route beyond 198.18.97.0/24)
//	peer 198.18.98.9 (far away)
func TestStatusSaysWhichNICHasNoRouteToAPeer(t *testing.T) {
	a := nstest.Namespace(t, "pl-e2e-a")
	gw := nstest.Namespace(t, "pl-e2e-gw")
	nstest.Veth(t, a, "eth0", "198.18.96.1/24", gw, "eth0", "198.18.96.2/24")
	nstest.Veth(t, a, "eth1", "198.18.97.1/24", gw, "eth1", "198.18.97.2/24")
	if _, err := a.Run("ip", "route", "add", "default", "via", "198.18.96.2", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, a, "--vip", "198.19.96.1/24", "--peer", "198.18.98.9")
	want := []noRoute{{Local: "eth1", Peer: "198.18.98.9"}}
	waitFor(t, "status to list eth1 without a route", 5*time.Second, func() bool {
		return slices.Equal(n.status().NoRoute, want)
	})
	doc := n.status()
	if text := renderStatus(&doc); !strings.Contains(text, "no route to 198.18.98.9 via eth1") {
		t.Fatalf("status text does not say it:\n%s", text)
	}
	if _, err := a.Run("ip", "route", "add", "default", "via", "198.18.97.2", "dev", "eth1", "metric", "200"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the warning to go once eth1 has a default route", 5*time.Second, func() bool {
		return len(n.status().NoRoute) == 0
	})
}
