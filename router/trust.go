package router

import "net/netip"

// What a router node believes about the hosts that send to it, modelled on
// WireGuard's cryptokey routing: a host speaks only for the addresses the
// routing table sends to it.
//
//	bundle engine: new host claims VIP ─▶ AcceptHost: inside the virtual
//	                                      prefix, not its network or
//	                                      broadcast address, not ours
//	Deliver(from, pkt) ─▶ sourceAllowed: the route back to pkt's source
//	                      goes to from ─▶ for this node: TUN
//	                                  ─▶ router node: relay
//	                                  ─▶ plain host: transit, dropped

// AcceptHost reports whether a host may join under the virtual address vip:
// it must be a host address of this node's virtual network other than this
// node's own. The bundle engine asks before it learns a new host; each
// refusal is counted. Safe for concurrent use.
func (r *Router) AcceptHost(vip netip.Addr) bool {
	if !ValidHostAddr(r.prefix, vip) || vip == r.prefix.Addr() {
		r.stats.badHost.Add(1)
		return false
	}
	return true
}

// ValidHostAddr reports whether a is a host address of the network p: inside
// it, and neither its network address nor its broadcast address.
func ValidHostAddr(p netip.Prefix, a netip.Addr) bool {
	if !a.Is4() || !p.Contains(a) {
		return false
	}
	return a != p.Masked().Addr() && a != lastAddr(p)
}

// sourceAllowed is the reverse-path check of a packet delivered by host from:
// its source must be an address this node would route to from — the host's
// own address, an address a static route sends via it, or, when from is the
// gateway, any address nothing else claims. So a host cannot speak for
// another host, for this node, or for an address it has no route for.
func (r *Router) sourceAllowed(from, src netip.Addr) bool {
	if src == from {
		return true
	}
	if src == r.prefix.Addr() {
		return false
	}
	nh, ok := r.nextHop(src)
	return ok && nh == from
}
