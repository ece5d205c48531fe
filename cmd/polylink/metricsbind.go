package main

import (
	"fmt"
	"net"
	"net/netip"
)

// The exporter has no authentication, like most Prometheus exporters: it
// binds where it is told (a fleet's Prometheus may scrape over a private
// network polylink knows nothing of), and says loudly when that is beyond
// this machine and the virtual network. What it serves is a map of the
// fleet: every host's virtual address, every path's NICs and endpoints
// (public addresses of the robots' uplinks among them).

// metricsExposure returns the warning `run` logs for --metrics addr on a
// node whose virtual network is vip, or "" when addr is private to this
// machine (loopback) or to the virtual network (the node's own virtual
// address: Prometheus scrapes it through the tunnel, which in keyed mode
// only keyed hosts enter).
func metricsExposure(addr string, vip netip.Prefix) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "" // checkMetricsAddr refused it already
	}
	if host == "localhost" {
		return ""
	}
	where := fmt.Sprintf("on %s", host)
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if a.IsLoopback() || vip.Contains(a) {
			return ""
		}
		if a.IsUnspecified() {
			where = "on every address of this machine, its uplinks included"
		}
	} else if host == "" {
		where = "on every address of this machine, its uplinks included"
	}
	return fmt.Sprintf("--metrics %s: metrics served without authentication %s: whoever reaches it reads every host's virtual address and every path's endpoints; bind 127.0.0.1 or this node's virtual address (%s:PORT, scraped through the tunnel), or firewall the port",
		addr, where, vip.Addr())
}
