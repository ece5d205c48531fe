package linkmon

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// readRoutes dumps the unicast routes of every table but local (which holds
// only the node's own and broadcast addresses), both families. Policy
// routing tables count: a per-uplink table is how NetworkManager and
// hand-written setups give each NIC its own default route.
func readRoutes(h *netlink.Handle) ([]routeState, error) {
	var out []routeState
	err := h.RouteListFilteredIter(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_TABLE, func(r netlink.Route) bool {
			if r.Table == unix.RT_TABLE_LOCAL || r.Type != unix.RTN_UNICAST {
				return true
			}
			dst, ok := routeDst(r)
			if !ok {
				return true
			}
			rs := routeState{Dst: dst}
			if r.LinkIndex > 0 {
				rs.Indexes = append(rs.Indexes, r.LinkIndex)
			}
			for _, nh := range r.MultiPath {
				if nh.LinkIndex > 0 {
					rs.Indexes = append(rs.Indexes, nh.LinkIndex)
				}
			}
			if len(rs.Indexes) > 0 {
				out = append(out, rs)
			}
			return true
		})
	if err != nil {
		return nil, fmt.Errorf("dump routes: %w", err)
	}
	return out, nil
}

// routeDst is a route's destination; a nil Dst is the family's default
// route.
func routeDst(r netlink.Route) (netip.Prefix, bool) {
	if r.Dst != nil {
		p, ok := ipPrefix(r.Dst)
		return p.Masked(), ok
	}
	switch r.Family {
	case unix.AF_INET:
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	case unix.AF_INET6:
		return netip.PrefixFrom(netip.IPv6Unspecified(), 0), true
	}
	return netip.Prefix{}, false
}
