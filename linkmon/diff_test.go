package linkmon

import (
	"net/netip"
	"slices"
	"testing"
)

func nic(index int, name, prefix string, mtu int) NIC {
	p := netip.MustParsePrefix(prefix)
	return NIC{Index: index, Name: name, Addr: p.Addr(), Prefix: p, Addrs: []netip.Prefix{p}, MTU: mtu}
}

func set(nics ...NIC) map[int]NIC {
	m := make(map[int]NIC)
	for _, n := range nics {
		m[n.Index] = n
	}
	return m
}

func TestDiff(t *testing.T) {
	eth0 := nic(2, "eth0", "198.18.40.1/24", 1500)
	eth1 := nic(3, "eth1", "198.18.41.1/24", 1500)
	wwan := nic(9, "wwan0", "198.18.42.1/24", 1500)
	moved := nic(2, "eth0", "198.18.40.7/24", 1500)
	renamed := nic(2, "lan0", "198.18.40.1/24", 1500)
	jumbo := nic(2, "eth0", "198.18.40.1/24", 9000)
	extra := eth0.clone()
	extra.Addrs = append(extra.Addrs, netip.MustParsePrefix("198.18.43.1/24"))

	type ev struct {
		kind  EventKind
		index int
		addr  string
	}
	for i, c := range []struct {
		old, next map[int]NIC
		want      []ev
	}{
		0: {set(), set(), nil},
		1: {set(eth0), set(eth0), nil},
		2: {set(), set(eth1, eth0), []ev{{Added, 2, "198.18.40.1"}, {Added, 3, "198.18.41.1"}}},
		3: {set(eth0, eth1), set(), []ev{{Removed, 2, "198.18.40.1"}, {Removed, 3, "198.18.41.1"}}},
		4: {set(eth0), set(moved), []ev{{Changed, 2, "198.18.40.7"}}},
		5: {set(eth0), set(renamed), []ev{{Changed, 2, "198.18.40.1"}}},
		6: {set(eth0), set(jumbo), []ev{{Changed, 2, "198.18.40.1"}}},
		7: {set(eth0), set(extra), []ev{{Changed, 2, "198.18.40.1"}}},
		// Removed first, then Changed, then Added, each by index.
		8: {set(eth1, eth0), set(moved, wwan), []ev{{Removed, 3, "198.18.41.1"}, {Changed, 2, "198.18.40.7"}, {Added, 9, "198.18.42.1"}}},
	} {
		var got []ev
		for _, e := range diff(c.old, c.next) {
			if e.Socket != nil {
				t.Errorf("%d: diff attached a socket to %v", i, e)
			}
			got = append(got, ev{e.Kind, e.NIC.Index, e.NIC.Addr.String()})
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%d: diff = %v, want %v", i, got, c.want)
		}
	}
}

func TestDiffEventsShareNoMemoryWithSnapshots(t *testing.T) {
	next := set(nic(2, "eth0", "198.18.40.1/24", 1500))
	events := diff(nil, next)
	events[0].NIC.Addrs[0] = netip.MustParsePrefix("198.18.47.47/32")
	if got := next[2].Addrs[0]; got != netip.MustParsePrefix("198.18.40.1/24") {
		t.Fatalf("changing an event's Addrs changed the snapshot: %v", got)
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{Added: "added", Changed: "changed", Removed: "removed", 0: "EventKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}
