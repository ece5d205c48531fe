package main

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/polylink/polylink/aggregator"
)

// The DNS re-resolver follows the peers of the last reload: started with
// a literal peer only, it resolves a name a reload brought in, and not
// the names a reload took away. The engine has no links: nothing is sent.
func TestReresolverFollowsReloadedPeers(t *testing.T) {
	vip := netip.MustParsePrefix("198.19.0.2/24")
	spec := func(s string) peerSpec {
		p, err := parsePeer(s, vip)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	start := []netip.AddrPort{netip.MustParseAddrPort("198.18.0.3:0")}
	eng, err := aggregator.New(aggregator.Config{VIP: vip.Addr(), Peers: start, Deliver: func(netip.Addr, []byte) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	w := &watchers{blocked: newBlockedWatch(zap.NewNop(), nil, blockedHold),
		resolve: &reresolver{specs: []peerSpec{spec("198.18.0.3")}, current: start, eng: eng, log: zap.NewNop(), resolver: net.DefaultResolver}}
	t0 := time.Now()
	w.resolve.upAt = t0
	peersNow := func() []string { return eng.Status().Peers }

	w.resolve.check(t0.Add(2 * reresolveAfter))
	if got := peersNow(); !slices.Equal(got, []string{"198.18.0.3"}) {
		t.Fatalf("no names configured, yet the peers changed to %v", got)
	}
	// A reload names the peer "localhost" (resolved from /etc/hosts); it
	// resolved to a stale address, and every path to it is down.
	stale := []netip.AddrPort{netip.MustParseAddrPort("198.18.9.9:45820")}
	w.setPeers([]peerSpec{spec("localhost:45820")}, stale)
	if got := peersNow(); !slices.Equal(got, []string{"198.18.9.9:45820"}) {
		t.Fatalf("after the reload the engine's peers are %v", got)
	}
	w.resolve.check(t0.Add(2 * reresolveAfter))
	if got := peersNow(); !slices.Contains(got, "127.0.0.1:45820") {
		t.Fatalf("the re-resolver did not follow the reloaded name: peers %v", got)
	}
	// A reload back to a literal: the name is no longer resolved.
	w.setPeers([]peerSpec{spec("198.18.0.3")}, start)
	w.resolve.check(t0.Add(4 * reresolveAfter))
	if got := peersNow(); !slices.Equal(got, []string{"198.18.0.3"}) {
		t.Fatalf("after the reload to a literal the peers are %v", got)
	}
}
