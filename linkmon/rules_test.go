package linkmon

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

func up(index int, name string) linkState {
	return linkState{Index: index, Name: name, MTU: 1500, Up: true, Oper: netlink.OperUp}
}

func addr(index int, prefix string) addrState {
	return addrState{Index: index, Prefix: netip.MustParsePrefix(prefix)}
}

func secondary(index int, prefix string) addrState {
	a := addr(index, prefix)
	a.Secondary = true
	return a
}

func TestUsableNICsLinkRules(t *testing.T) {
	withOper := func(l linkState, s netlink.LinkOperState) linkState { l.Oper = s; return l }
	for i, c := range []struct {
		link linkState
		want bool
	}{
		0:  {up(2, "eth0"), true},
		1:  {withOper(up(2, "tun0"), netlink.OperUnknown), true}, // TUN, dummy
		2:  {withOper(up(2, "eth0"), netlink.OperDown), false},
		3:  {withOper(up(2, "veth0"), netlink.OperLowerLayerDown), false}, // peer down
		4:  {withOper(up(2, "wlan0"), netlink.OperDormant), false},        // not associated
		5:  {withOper(up(2, "eth0"), netlink.OperNotPresent), false},
		6:  {withOper(up(2, "eth0"), netlink.OperTesting), false},
		7:  {linkState{Index: 2, Name: "eth0", Up: false, Oper: netlink.OperUp}, false}, // admin down
		8:  {linkState{Index: 1, Name: "lo", Up: true, Loopback: true, Oper: netlink.OperUnknown}, false},
		9:  {up(2, "docker0"), false}, // excluded by glob
		10: {up(2, "pl0"), false},     // excluded by name
		11: {up(2, "dockerx"), false},
		12: {up(2, "xdocker0"), true},
	} {
		d := dump{Links: []linkState{c.link}, Addrs: []addrState{addr(c.link.Index, "198.18.40.1/24")}}
		_, got := usableNICs(d, []string{"docker*", "pl0"}, false)[c.link.Index]
		if got != c.want {
			t.Errorf("%d: %+v usable = %v, want %v", i, c.link, got, c.want)
		}
	}
}

func TestUsableNICsNeedsAnIPv4Address(t *testing.T) {
	d := dump{
		Links: []linkState{up(2, "eth0"), up(3, "eth1")},
		Addrs: []addrState{addr(3, "198.18.41.1/24")},
	}
	got := usableNICs(d, nil, false)
	if _, ok := got[2]; ok {
		t.Error("eth0 without an IPv4 address is usable")
	}
	want := NIC{Index: 3, Name: "eth1", MTU: 1500,
		Addr:   netip.MustParseAddr("198.18.41.1"),
		Prefix: netip.MustParsePrefix("198.18.41.1/24"),
		Addrs:  []netip.Prefix{netip.MustParsePrefix("198.18.41.1/24")}}
	if n := got[3]; !n.equal(want) {
		t.Errorf("eth1 = %+v, want %+v", n, want)
	}
}

func TestChooseAddr(t *testing.T) {
	for i, c := range []struct {
		addrs []addrState
		want  string
	}{
		0: {[]addrState{addr(2, "198.18.40.9/24")}, "198.18.40.9/24"},
		1: {[]addrState{addr(2, "198.18.40.9/24"), addr(2, "198.18.41.1/24")}, "198.18.40.9/24"}, // lowest
		2: {[]addrState{addr(2, "198.18.41.1/24"), addr(2, "198.18.40.9/24")}, "198.18.40.9/24"}, // order of the dump does not matter
		3: {[]addrState{secondary(2, "198.18.40.1/24"), addr(2, "198.18.40.9/24")}, "198.18.40.9/24"},
		4: {[]addrState{addr(2, "169.254.7.7/16"), secondary(2, "198.18.40.9/24")}, "198.18.40.9/24"}, // global before link-local
		5: {[]addrState{addr(2, "169.254.9.9/16"), addr(2, "169.254.7.7/16")}, "169.254.7.7/16"},
		6: {[]addrState{addr(2, "198.18.40.1/24"), addr(2, "198.18.40.1/16")}, "198.18.40.1/16"}, // then the shorter prefix
		7: {[]addrState{secondary(2, "198.18.40.3/24"), secondary(2, "198.18.40.2/24")}, "198.18.40.2/24"},
	} {
		if got := chooseAddr(c.addrs); got != netip.MustParsePrefix(c.want) {
			t.Errorf("%d: chooseAddr = %v, want %v", i, got, c.want)
		}
	}
}

func TestUsableNICsListsEveryAddressSorted(t *testing.T) {
	d := dump{
		Links: []linkState{up(2, "eth0")},
		Addrs: []addrState{
			secondary(2, "198.18.40.9/24"), addr(2, "198.18.42.1/24"), addr(2, "198.18.40.5/24"), addr(2, "198.18.40.5/16"),
			addr(7, "198.18.43.1/24"), // another link's: not listed
		},
	}
	got := usableNICs(d, nil, false)[2]
	want := []netip.Prefix{
		netip.MustParsePrefix("198.18.40.5/16"), netip.MustParsePrefix("198.18.40.5/24"),
		netip.MustParsePrefix("198.18.40.9/24"), netip.MustParsePrefix("198.18.42.1/24"),
	}
	if !slices.Equal(got.Addrs, want) {
		t.Errorf("Addrs = %v, want %v", got.Addrs, want)
	}
	if got.Prefix != netip.MustParsePrefix("198.18.40.5/16") || got.Addr != got.Prefix.Addr() {
		t.Errorf("chosen = %v (%v), want 198.18.40.5/16", got.Prefix, got.Addr)
	}
}

func TestValidatePatterns(t *testing.T) {
	if err := validatePatterns([]string{"docker*", "pl0", "veth?"}); err != nil {
		t.Errorf("valid patterns rejected: %v", err)
	}
	if err := validatePatterns([]string{"ok", "br-["}); err == nil {
		t.Error("malformed pattern br-[ accepted")
	}
	if _, err := New(Config{Exclude: []string{"["}}); err == nil {
		t.Error("New accepted a malformed exclude pattern")
	}
}

func TestUsableNICsIPv6AndRoutes(t *testing.T) {
	v6 := func(index int, prefix string, unusable bool) addrState {
		return addrState{Index: index, Prefix: netip.MustParsePrefix(prefix), Unusable: unusable}
	}
	d := dump{
		Links: []linkState{up(2, "eth0"), up(3, "wwan0"), up(4, "wlan0")},
		Addrs: []addrState{
			addr(2, "198.18.40.1/24"), v6(2, "2001:2:0:40::9/64", false), v6(2, "2001:2:0:40::1/64", false),
			v6(3, "fe80::1/64", false), v6(3, "2001:2:0:41::1/64", false),
			v6(4, "fe80::2/64", false), v6(4, "2001:2:0:42::1/64", true), // link-local and tentative only
		},
		Routes: []routeState{
			{Dst: netip.MustParsePrefix("198.18.40.0/24"), Indexes: []int{2}},
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Indexes: []int{2, 3}}, // multipath
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Indexes: []int{2}},    // again, in another table
			{Dst: netip.MustParsePrefix("::/0"), Indexes: []int{3}},
		},
	}
	got := usableNICs(d, nil, true)
	if len(got) != 2 {
		t.Fatalf("usable %v, want eth0 and wwan0 (wlan0 has only link-local and tentative IPv6)", got)
	}
	eth0, wwan0 := got[2], got[3]
	if eth0.Addr6 != netip.MustParseAddr("2001:2:0:40::1") || len(eth0.Addrs6) != 2 {
		t.Errorf("eth0 %+v: want Addr6 2001:2:0:40::1 of two", eth0)
	}
	if wwan0.Addr.IsValid() || wwan0.Addr6 != netip.MustParseAddr("2001:2:0:41::1") || len(wwan0.Addrs6) != 1 {
		t.Errorf("wwan0 %+v: want IPv6 only, 2001:2:0:41::1 (not fe80::1)", wwan0)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("198.18.40.0/24")}; !slices.Equal(eth0.Routes, want) {
		t.Errorf("eth0 routes %v, want %v", eth0.Routes, want)
	}
	for _, c := range []struct {
		nic  NIC
		dst  string
		want bool
	}{
		{eth0, "198.18.99.1", true}, {eth0, "2001:2::1", false},
		{wwan0, "198.18.99.1", true}, {wwan0, "2001:2::1", true}, {wwan0, "::ffff:198.18.99.1", true},
	} {
		if got := c.nic.HasRoute(netip.MustParseAddr(c.dst)); got != c.want {
			t.Errorf("%s.HasRoute(%s) = %v, want %v", c.nic.Name, c.dst, got, c.want)
		}
	}
	// Without UDP, IPv6 does not make a NIC usable, nor is it recorded.
	if got := usableNICs(d, nil, false); len(got) != 1 || got[2].Addr6.IsValid() {
		t.Errorf("without UDP: %v, want eth0 alone, without IPv6", got)
	}
}
