package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/polylink/polylink/aggregator"
)

// renderStatus draws the seed's dump: TUN, local NICs, then per host its
// remote NICs and paths, with which paths carry the stream and why.
func renderStatus(d *statusDoc) string {
	var b strings.Builder
	role := "host"
	if d.Router.Relay {
		role = "router node"
	}
	fmt.Fprintf(&b, "polylink %s  %s on %s (index %d, mtu %d)  %s  up %s\n", d.Version, d.TUN.Addr, d.TUN.Name,
		d.TUN.Index, d.TUN.MTU, role, time.Duration(d.UptimeS*float64(time.Second)).Round(time.Second))
	renderMode(&b, d)
	b.WriteString("local NICs:\n")
	if len(d.Local) == 0 {
		b.WriteString("  none usable: polylink needs an up NIC with an IPv4 address\n")
	}
	for _, l := range d.Local {
		fmt.Fprintf(&b, "  %-10s (%d)  %s%s\n", l.Name, l.Index, l.Addr, meteredNote(l))
	}
	renderNoRoutes(&b, d.NoRoute)
	renderBlocked(&b, d.IPIPBlocked)
	if len(d.Hosts) == 0 {
		fmt.Fprintf(&b, "hosts: none yet (probing peers %s)\n", strings.Join(d.Peers, ", "))
	}
	for i := range d.Hosts {
		renderHost(&b, &d.Hosts[i])
		renderHostPolicy(&b, &d.Hosts[i])
	}
	renderFlows(&b, d)
	c := d.Counters
	fmt.Fprintf(&b, "counters: sent %d (copies %d)  received %d  delivered %d  duplicates dropped %d  late duplicates %d  malformed %d",
		c.TxPackets, c.TxCopies, c.RxPackets, c.Delivered, c.DuplicatesDropped, c.LateDuplicates, c.MalformedDropped)
	if d.Router.Relay {
		fmt.Fprintf(&b, "  relayed %d", d.Router.Counters.Forwarded)
	}
	if c.QueueDrops+c.UnknownHost+d.Router.Counters.NoRoute > 0 {
		fmt.Fprintf(&b, "  queue drops %d  unknown host %d  no route %d", c.QueueDrops, c.UnknownHost, d.Router.Counters.NoRoute)
	}
	b.WriteString("\n")
	renderRouting(&b, d)
	return b.String()
}

func renderHost(b *strings.Builder, h *aggregator.HostStatus) {
	tag := ""
	if h.Gateway {
		tag = "  (gateway)"
	}
	fmt.Fprintf(b, "host %s%s  heard %s  tx %.0f pkt/s  rx %.0f pkt/s  (%.0f%% of the %d pkt/s ID window)",
		h.VIP, tag, ago(h.LastRxMs), h.TxRatePps, h.RxRatePps, 100*h.IDLimitShare, h.IDLimitPps)
	fmt.Fprintf(b, "  path skew %.1f ms (max %.0f ms)", h.SkewMs, h.MaxSkewMs)
	b.WriteString("\n")
	renderHostKey(b, h)
	if h.LateDuplicates > 0 {
		fmt.Fprintf(b, "  warning: %d late duplicates: a path lags the fastest by more than the 500 ms window\n", h.LateDuplicates)
	}
	remotes := []string{}
	for _, r := range h.Remotes {
		remotes = append(remotes, fmt.Sprintf("%s (%d)", r.Addr, r.Index))
	}
	fmt.Fprintf(b, "  remote NICs: %s\n", strings.Join(remotes, ", "))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  PATH\tSTATE\tRTT\tLOSS\tJITTER\tFIRST\tTX\tRX\tHEARD\t")
	best := bestPath(h.Connections)
	var silent []string
	for i, c := range h.Connections {
		if c.LastRxMs < 0 && !c.Carrying {
			silent = append(silent, c.Local+" → "+c.RemoteAddr)
			continue
		}
		fmt.Fprintf(tw, "  %s → %s\t%d %s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", c.Local, c.RemoteAddr,
			c.State, c.StateName, msOrDash(c.RTTMs), pctOrDash(c.Loss, c.ProbesSent > 0), msOrDash(c.JitterMs),
			pctOrDash(c.FirstShare, c.FirstWins > 0), c.TxPackets, c.RxPackets, ago(c.LastRxMs), why(c, i == best))
	}
	tw.Flush()
	if len(silent) > 0 {
		fmt.Fprintf(b, "  never answered (probed, carry nothing; no route between those NICs?): %s\n", strings.Join(silent, ", "))
	}
}

// bestPath is the index of the path that delivered first most often, -1 if
// none has delivered yet.
func bestPath(cs []aggregator.ConnStatus) int {
	best := -1
	for i, c := range cs {
		if c.FirstWins > 0 && (best < 0 || c.FirstWins > cs[best].FirstWins) {
			best = i
		}
	}
	return best
}

// why says in a few words what a path is doing for the stream.
func why(c aggregator.ConnStatus, best bool) string {
	switch {
	case c.Standby:
		return "standby: the raw IP-in-IP path on this NIC to that address carries the copies"
	case best:
		return "◀ carries the stream: first copy arrives here most often"
	case c.Carrying && c.State == 2:
		return "carries a copy (backup)"
	case c.Carrying:
		return "carries a copy: no path is up, so every path tries"
	default:
		return fmt.Sprintf("idle: silent for %s", ago(c.LastRxMs))
	}
}

func ago(ms float64) string {
	switch {
	case ms < 0:
		return "never"
	case ms < 1000:
		return fmt.Sprintf("%.0fms ago", ms)
	default:
		return fmt.Sprintf("%.1fs ago", ms/1000)
	}
}

func msOrDash(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", ms)
}

func pctOrDash(v float64, valid bool) string {
	if !valid {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}
