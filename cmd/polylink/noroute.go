package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/polylink/polylink/linkmon"
)

// noRoute is a local NIC without a route toward a peer: the socket pinned
// to it cannot reach that peer (Linux takes the peer for a neighbour on the
// link and the packets die there), so the path it would make stays silent.
type noRoute struct {
	Local string `json:"local"`
	Peer  string `json:"peer"`
}

// noRoutes lists, for each NIC and each peer address of a family the NIC
// can send, the pairs with no route through that NIC.
func noRoutes(nics []linkmon.NIC, peers []netip.Addr) []noRoute {
	var out []noRoute
	for _, n := range nics {
		for _, p := range peers {
			p = p.Unmap()
			if p.Is4() && !n.Addr.IsValid() || p.Is6() && !n.Addr6.IsValid() {
				continue // the NIC has no address of that family: not a path
			}
			if !n.HasRoute(p) {
				out = append(out, noRoute{Local: n.Name, Peer: p.String()})
			}
		}
	}
	return out
}

// renderNoRoutes writes one status line per NIC and peer without a route
// between them, and what to do about it.
func renderNoRoutes(b *strings.Builder, nr []noRoute) {
	for _, r := range nr {
		fmt.Fprintf(b, "  no route to %s via %s: that path cannot work; give %s a (default) route, e.g. a second default route with a higher metric\n",
			r.Peer, r.Local, r.Local)
	}
}
