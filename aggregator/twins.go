package aggregator

// Twins: a node given both `--peer ADDR` (raw IP-in-IP) and `--peer
// ADDR:PORT` (UDP) for one address has, on a NIC where both get through,
// two paths that are one: the same NIC, the same uplink, the same far
// address. A copy on each would double that uplink's bytes (on a metered
// LTE link, its bill) and add no redundancy, since whatever cuts one cuts
// the other. So while the raw twin is up, the UDP path stands by: its
// probes go on (it stays up, ready, and a NAT mapping stays alive), its
// data copies do not. The moment the raw twin is not up (a NAT or
// firewall on that uplink starts blocking IP-in-IP, which is what giving
// both is for) the UDP path carries copies again, on the next packet.
// Raw is the one kept: 8 bytes less per packet, and no NAT state to lose.
// Bulk and second copies choose one path anyway and ignore twins.

// standby reports whether c is a UDP path whose raw IP-in-IP twin (a
// connection over the same local NIC to the same remote address) is up,
// so that c carries no data copies. Called with e.mu read-locked.
func (h *host) standby(c *conn, now, dead int64) bool {
	if c.link.kind == KindIPIP {
		return false
	}
	a := c.remote.addr.Addr().Unmap()
	for _, o := range h.conns {
		if o.link.kind == KindIPIP && o.link.index == c.link.index &&
			o.remote.addr.Addr() == a && o.state(now, dead) == stateBoth {
			return true
		}
	}
	return false
}
