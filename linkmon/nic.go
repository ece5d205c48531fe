package linkmon

import (
	"fmt"
	"net/netip"
	"slices"
)

// NIC is a usable local NIC: administratively and operationally up, carrying
// at least one IPv4 address (or, when the monitor opens UDP sockets, at least
// one usable IPv6 address), neither loopback nor excluded by Config.Exclude.
type NIC struct {
	// Index is the interface index inside the monitored namespace.
	Index int
	// Name is the interface name.
	Name string
	// Addr is the chosen IPv4 address: the NIC's socket binds to it and every
	// packet sent on the NIC carries it as outer source. See chooseAddr for
	// the rule. Invalid (the zero Addr) on a NIC with only IPv6 addresses.
	Addr netip.Addr
	// Prefix is Addr with its prefix length.
	Prefix netip.Prefix
	// Addrs is every IPv4 address on the NIC, sorted by address, then by
	// prefix length.
	Addrs []netip.Prefix
	// MTU is the link MTU in bytes.
	MTU int
	// Addr6 is the chosen IPv6 address the NIC's IPv6 UDP socket binds to
	// (see chooseAddr6), invalid when the NIC has none usable.
	Addr6 netip.Addr
	// Addrs6 is every usable IPv6 address on the NIC (global or unique
	// local, DAD finished), sorted like Addrs.
	Addrs6 []netip.Prefix
	// Routes is every unicast route (any table but local) whose next hop
	// leaves through this NIC, by destination prefix, sorted and without
	// duplicates: see HasRoute.
	Routes []netip.Prefix
}

// HasRoute reports whether some route leaves through the NIC toward dst.
// A socket pinned to a NIC still needs one: without it Linux takes dst for
// a neighbour on the link and the packets die unanswered there, which is
// how a second uplink without its own default route black-holes.
func (n NIC) HasRoute(dst netip.Addr) bool {
	dst = dst.Unmap()
	for _, p := range n.Routes {
		if p.Contains(dst) {
			return true
		}
	}
	return false
}

// String returns "name(index) addr/bits", the form logs and errors use, with
// the IPv6 address after the IPv4 one when the NIC has one.
func (n NIC) String() string {
	switch {
	case !n.Addr6.IsValid():
		return fmt.Sprintf("%s(%d) %s", n.Name, n.Index, n.Prefix)
	case !n.Addr.IsValid():
		return fmt.Sprintf("%s(%d) %s", n.Name, n.Index, n.Addr6)
	}
	return fmt.Sprintf("%s(%d) %s %s", n.Name, n.Index, n.Prefix, n.Addr6)
}

// equal reports whether two NICs are the same in every field but Routes:
// a route change alone is no event (see Monitor.apply), only an update of
// NICs() and of the sockets' NIC.
func (n NIC) equal(o NIC) bool {
	return n.Index == o.Index && n.Name == o.Name && n.Addr == o.Addr &&
		n.Prefix == o.Prefix && n.MTU == o.MTU && slices.Equal(n.Addrs, o.Addrs) &&
		n.Addr6 == o.Addr6 && slices.Equal(n.Addrs6, o.Addrs6)
}

// clone returns a copy that shares no memory with n, so a NIC handed to a
// caller can never be changed by a later snapshot.
func (n NIC) clone() NIC {
	n.Addrs = slices.Clone(n.Addrs)
	n.Addrs6 = slices.Clone(n.Addrs6)
	n.Routes = slices.Clone(n.Routes)
	return n
}

// comparePrefixes orders prefixes by address, then by prefix length.
func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
