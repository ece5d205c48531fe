package linkmon

import (
	"fmt"
	"net/netip"
	"slices"
)

// NIC is a usable local NIC: administratively and operationally up, carrying
// at least one IPv4 address, neither loopback nor excluded by Config.Exclude.
type NIC struct {
	// Index is the interface index inside the monitored namespace.
	Index int
	// Name is the interface name.
	Name string
	// Addr is the chosen IPv4 address: the NIC's socket binds to it and every
	// packet sent on the NIC carries it as outer source. See chooseAddr for
	// the rule.
	Addr netip.Addr
	// Prefix is Addr with its prefix length.
	Prefix netip.Prefix
	// Addrs is every IPv4 address on the NIC, sorted by address, then by
	// prefix length.
	Addrs []netip.Prefix
	// MTU is the link MTU in bytes.
	MTU int
}

// String returns "name(index) addr/bits", the form logs and errors use.
func (n NIC) String() string {
	return fmt.Sprintf("%s(%d) %s", n.Name, n.Index, n.Prefix)
}

// equal reports whether two NICs are the same in every field.
func (n NIC) equal(o NIC) bool {
	return n.Index == o.Index && n.Name == o.Name && n.Addr == o.Addr &&
		n.Prefix == o.Prefix && n.MTU == o.MTU && slices.Equal(n.Addrs, o.Addrs)
}

// clone returns a copy that shares no memory with n, so a NIC handed to a
// caller can never be changed by a later snapshot.
func (n NIC) clone() NIC {
	n.Addrs = slices.Clone(n.Addrs)
	return n
}

// comparePrefixes orders prefixes by address, then by prefix length.
func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
