package linkmon

import (
	"net/netip"
	"slices"
)

// routeState is one unicast route as a dump reported it: its destination
// and the NIC each of its next hops leaves through (several for a
// multipath route).
type routeState struct {
	Dst     netip.Prefix
	Indexes []int
}

// usable6 reports whether an IPv6 address can carry polylink's UDP paths:
// not link-local (a peer beyond the link cannot answer it; the zone would
// have to travel with every endpoint), not multicast, and past duplicate
// address detection and not deprecated (see addrState.Unusable).
func usable6(a addrState) bool {
	ip := a.Prefix.Addr()
	return ip.Is6() && !ip.Is4In6() && !ip.IsLinkLocalUnicast() && !ip.IsMulticast() &&
		!ip.IsLoopback() && !a.Unusable
}

// routesByIndex groups route destinations by the NIC they leave through,
// each list sorted and without duplicates (the same prefix in two tables
// counts once).
func routesByIndex(routes []routeState) map[int][]netip.Prefix {
	out := make(map[int][]netip.Prefix)
	for _, r := range routes {
		for _, idx := range r.Indexes {
			out[idx] = append(out[idx], r.Dst)
		}
	}
	for idx, ps := range out {
		slices.SortFunc(ps, comparePrefixes)
		out[idx] = slices.Compact(ps)
	}
	return out
}
