package router

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Route sends a virtual prefix to a next-hop host.
type Route struct {
	Prefix netip.Prefix
	Via    netip.Addr // the next-hop host's virtual address
}

// ParseRoute reads "PREFIX via VIP" or "PREFIX=VIP", e.g.
// "198.19.5.0/24=198.19.0.1".
func ParseRoute(s string) (Route, error) {
	pfx, via, ok := strings.Cut(s, "=")
	if !ok {
		pfx, via, ok = strings.Cut(s, " via ")
	}
	if !ok {
		return Route{}, fmt.Errorf("route %q: want PREFIX=NEXT_HOP_VIP, e.g. 198.19.5.0/24=198.19.0.1", s)
	}
	p, err := netip.ParsePrefix(strings.TrimSpace(pfx))
	if err != nil || !p.Addr().Is4() {
		return Route{}, fmt.Errorf("route %q: %q is not an IPv4 prefix", s, pfx)
	}
	v, err := netip.ParseAddr(strings.TrimSpace(via))
	if err != nil || !v.Is4() {
		return Route{}, fmt.Errorf("route %q: next hop %q is not an IPv4 address", s, via)
	}
	return Route{Prefix: p.Masked(), Via: v}, nil
}

// sortRoutes orders routes longest prefix first, so the first match wins.
func sortRoutes(rs []Route) []Route {
	rs = slices.Clone(rs)
	slices.SortStableFunc(rs, func(a, b Route) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	return rs
}

// nextHop picks the host a packet for dst goes to: the host itself if a
// bundle to it exists, else the longest static route, else the gateway (the
// host met through a configured peer: for a plain host, the router).
func (r *Router) nextHop(dst netip.Addr) (netip.Addr, bool) {
	if r.bundles.HasHost(dst) {
		return dst, true
	}
	for _, rt := range r.staticRoutes() {
		if rt.Prefix.Contains(dst) {
			return rt.Via, true
		}
	}
	return r.bundles.Gateway()
}

// SetRoutes replaces the static routes while the router runs (a reload):
// each packet sees the old table or the new one, never a mix.
func (r *Router) SetRoutes(rs []Route) {
	sorted := sortRoutes(rs)
	r.routes.Store(&sorted)
}

// staticRoutes returns the current static routes, longest prefix first.
func (r *Router) staticRoutes() []Route { return *r.routes.Load() }
