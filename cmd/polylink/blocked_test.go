package main

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/polylink/polylink/aggregator"
)

func TestBlockedIPIPFromStatus(t *testing.T) {
	conn := func(local, remote string, state int) aggregator.ConnStatus {
		return aggregator.ConnStatus{Local: local, RemoteAddr: remote, State: state}
	}
	host := func(cs ...aggregator.ConnStatus) aggregator.Status {
		return aggregator.Status{Hosts: []aggregator.HostStatus{{VIP: "198.19.0.1", Connections: cs}}}
	}
	peer := []netip.Addr{netip.MustParseAddr("198.18.120.1")}
	for i, c := range []struct {
		st    aggregator.Status
		peers []netip.Addr
		want  []ipipBlocked
	}{
		// Raw configured, never answered; UDP up on both NICs.
		0: {host(conn("eth0", "198.18.120.1:45820", 2), conn("eth1", "198.18.120.1:45820", 2)), peer,
			[]ipipBlocked{{"eth0", "198.18.120.1"}, {"eth1", "198.18.120.1"}}},
		// Raw answered on eth1 only: eth0's raw path stays down.
		1: {host(conn("eth0", "198.18.120.1:45820", 2), conn("eth1", "198.18.120.1:45820", 2),
			conn("eth0", "198.18.120.1", 0), conn("eth1", "198.18.120.1", 2)), peer,
			[]ipipBlocked{{"eth0", "198.18.120.1"}}},
		// Both up: nothing blocked.
		2: {host(conn("eth0", "198.18.120.1:45820", 2), conn("eth0", "198.18.120.1", 2)), peer, nil},
		// UDP down too: the uplink is down, not IP-in-IP blocked.
		3: {host(conn("eth0", "198.18.120.1:45820", 0)), peer, nil},
		// Raw not configured: nothing to report.
		4: {host(conn("eth0", "198.18.120.1:45820", 2)), nil, nil},
		// IPv6 UDP endpoints never count as raw.
		5: {host(conn("eth1", "[2001:2::1]:45820", 2)), peer, nil},
	} {
		if got := blockedNow(&c.st, c.peers); !slices.Equal(got, c.want) {
			t.Errorf("%d: blocked %v, want %v", i, got, c.want)
		}
	}
}

func TestBlockedWatchHoldsThenLogsOnce(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	w := newBlockedWatch(zap.New(core), []netip.Addr{netip.MustParseAddr("198.18.120.1")}, 2*time.Second)
	st := aggregator.Status{Hosts: []aggregator.HostStatus{{Connections: []aggregator.ConnStatus{
		{Local: "wwan0", RemoteAddr: "198.18.120.1:45820", State: 2}}}}}
	t0 := time.Unix(1000, 0)
	for s := range 6 {
		w.update(&st, t0.Add(time.Duration(s)*time.Second))
		if got := len(w.current()); (s >= 2) != (got == 1) {
			t.Fatalf("after %d s: %d blocked, want it reported from 2 s on", s, got)
		}
	}
	if n := logs.FilterMessageSnippet("IP-in-IP blocked on wwan0").Len(); n != 1 {
		t.Fatalf("logged %d times, want once", n)
	}
	st.Hosts[0].Connections[0].State = 0
	w.update(&st, t0.Add(10*time.Second))
	if got := w.current(); len(got) != 0 {
		t.Fatalf("with UDP down too: still blocked %v", got)
	}
}
