package linkmon

import (
	"fmt"
	"net/netip"
	"path"
	"slices"

	"github.com/vishvananda/netlink"
)

// linkState is one interface as a dump reported it.
type linkState struct {
	Index    int
	Name     string
	MTU      int
	Up       bool // IFF_UP: administratively up
	Loopback bool // IFF_LOOPBACK
	Oper     netlink.LinkOperState
}

// addrState is one IPv4 or IPv6 address as a dump reported it.
type addrState struct {
	Index     int // interface it sits on
	Prefix    netip.Prefix
	Secondary bool // IFA_F_SECONDARY: another address of the same subnet came first (IPv6: a temporary address)
	// Unusable (IPv6 only): tentative (DAD not finished: bind fails),
	// DAD failed, or deprecated (its lifetime ran out; kept by the kernel
	// only for connections already using it).
	Unusable bool
}

// dump is one read of every link, every IPv4 and IPv6 address and every
// unicast route of a namespace.
type dump struct {
	Links  []linkState
	Addrs  []addrState
	Routes []routeState
}

// usableNICs applies the rules to a dump and returns the usable NICs by
// index. A NIC is usable when it is up (see linkUsable), is not excluded by
// name and carries at least one IPv4 address, or, with withV6 (the monitor
// opens UDP sockets, which IPv6 can carry), one usable IPv6 address.
func usableNICs(d dump, exclude []string, withV6 bool) map[int]NIC {
	byIndex := make(map[int][]addrState)
	byIndex6 := make(map[int][]addrState)
	for _, a := range d.Addrs {
		switch {
		case a.Prefix.Addr().Is4():
			byIndex[a.Index] = append(byIndex[a.Index], a)
		case withV6 && usable6(a):
			byIndex6[a.Index] = append(byIndex6[a.Index], a)
		}
	}
	routes := routesByIndex(d.Routes)
	nics := make(map[int]NIC)
	for _, l := range d.Links {
		addrs, addrs6 := byIndex[l.Index], byIndex6[l.Index]
		if !linkUsable(l) || excluded(l.Name, exclude) || len(addrs)+len(addrs6) == 0 {
			continue
		}
		n := NIC{Index: l.Index, Name: l.Name, MTU: l.MTU, Routes: routes[l.Index]}
		if len(addrs) > 0 {
			n.Prefix = chooseAddr(addrs)
			n.Addr = n.Prefix.Addr()
			n.Addrs = sortedPrefixes(addrs)
		}
		if len(addrs6) > 0 {
			n.Addr6 = chooseAddr(addrs6).Addr()
			n.Addrs6 = sortedPrefixes(addrs6)
		}
		nics[l.Index] = n
	}
	return nics
}

// sortedPrefixes returns the prefixes of addrs, sorted by comparePrefixes.
func sortedPrefixes(addrs []addrState) []netip.Prefix {
	all := make([]netip.Prefix, len(addrs))
	for i, a := range addrs {
		all[i] = a.Prefix
	}
	slices.SortFunc(all, comparePrefixes)
	return all
}

// linkUsable reports whether a link can carry traffic: administratively up,
// not loopback, and operationally up. OperUnknown counts as up because TUN,
// dummy and many point-to-point drivers never report anything else. Dormant
// (Wi-Fi not yet associated), testing, not-present, down and
// lower-layer-down (a veth whose peer is down, a cable pulled) do not.
func linkUsable(l linkState) bool {
	if !l.Up || l.Loopback {
		return false
	}
	return l.Oper == netlink.OperUp || l.Oper == netlink.OperUnknown
}

// excluded reports whether name matches one of the patterns (exact names or
// path.Match globs such as "docker*"). Patterns were validated by
// validatePatterns, so match errors cannot happen here.
func excluded(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// validatePatterns rejects malformed globs up front, so a typo in an
// exclusion fails loudly instead of silently excluding nothing.
func validatePatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("exclude pattern %q: %w", p, err)
		}
	}
	return nil
}

// chooseAddr picks the address a NIC's socket binds to, deterministically:
//
//  1. not link-local (169.254.0.0/16) before link-local: a peer beyond the
//     link cannot answer a link-local source;
//  2. primary before secondary: the kernel's own choice of source for the
//     subnet, and the one that survives when secondaries are flushed;
//  3. the lowest address, then the shortest prefix.
//
// addrs must not be empty.
func chooseAddr(addrs []addrState) netip.Prefix {
	best := addrs[0]
	for _, a := range addrs[1:] {
		if preferAddr(a, best) {
			best = a
		}
	}
	return best.Prefix
}

// preferAddr reports whether a ranks before b under chooseAddr's rule.
func preferAddr(a, b addrState) bool {
	if al, bl := a.Prefix.Addr().IsLinkLocalUnicast(), b.Prefix.Addr().IsLinkLocalUnicast(); al != bl {
		return bl
	}
	if a.Secondary != b.Secondary {
		return b.Secondary
	}
	return comparePrefixes(a.Prefix, b.Prefix) < 0
}
