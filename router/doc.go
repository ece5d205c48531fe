// Package router is polylink's virtual network layer: the TUN device that
// applications use, the routing table from virtual destinations to next-hop
// hosts, and forwarding between hosts on a router node.
//
//	TUN ─▶ readLoop ─▶ ParseIPv4 ─▶ nextHop(dst) ─▶ Bundles.Send(host, pkt)
//
//	Bundles' Deliver(from, pkt) ─▶ for this node: TUN write
//	                            ─▶ router node, for another host: TTL − 1 ─▶ Bundles.Send
//	                            ─▶ no route: drop, count, ICMP unreachable to the sender
//
// It reaches the bundle engine only through the small Bundles interface it
// declares, and every device through Device, with FakeTUN beside it.
package router
