package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/polylink/polylink/aggregator"
)

// ipipBlocked is a local NIC on which raw IP-in-IP to a peer address gets
// no answer while UDP to the same address works: a NAT or firewall on
// that uplink passes only TCP, UDP and ICMP (carrier-grade NAT on LTE).
type ipipBlocked struct {
	Local string `json:"local"`
	Peer  string `json:"peer"`
}

// blockedNow lists the NICs on which, right now, a UDP path to an address
// is up while raw IP-in-IP to it is not: either a raw path to it exists on
// that NIC and is not up, or the address is a configured raw peer that no
// raw path reaches at all (its probes were never answered).
func blockedNow(st *aggregator.Status, rawPeers []netip.Addr) []ipipBlocked {
	var out []ipipBlocked
	for _, h := range st.Hosts {
		udpUp := map[[2]string]bool{}   // {local, addr}
		rawSeen := map[[2]string]bool{} // a raw path exists on that NIC to that address
		rawUp := map[string]bool{}      // some raw path to that address is up
		for _, c := range h.Connections {
			addr, udp := endpointAddr(c.RemoteAddr)
			switch {
			case udp && c.State == 2:
				udpUp[[2]string{c.Local, addr}] = true
			case !udp:
				rawSeen[[2]string{c.Local, addr}] = true
				if c.State == 2 {
					rawUp[addr] = true
				}
			}
		}
		for k := range udpUp {
			silentRaw := false
			for _, c := range h.Connections {
				if a, udp := endpointAddr(c.RemoteAddr); !udp && a == k[1] && c.Local == k[0] && c.State != 2 {
					silentRaw = true
				}
			}
			unanswered := !rawSeen[k] && !rawUp[k[1]] &&
				slices.ContainsFunc(rawPeers, func(p netip.Addr) bool { return p.String() == k[1] })
			if silentRaw || unanswered {
				out = append(out, ipipBlocked{Local: k[0], Peer: k[1]})
			}
		}
	}
	slices.SortFunc(out, func(a, b ipipBlocked) int {
		return strings.Compare(a.Local+" "+a.Peer, b.Local+" "+b.Peer)
	})
	return slices.Compact(out)
}

// endpointAddr splits a status endpoint ("addr" for raw IP-in-IP,
// "addr:port" or "[v6]:port" for UDP) into its address and whether it is
// UDP.
func endpointAddr(s string) (addr string, udp bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String(), true
	}
	return s, false
}

// blockedWatch reports blocked IP-in-IP once it has held for holdFor (so
// the moment UDP answers before raw does at start-up is not reported),
// logs each NIC and peer once, and keeps the current list for status.
type blockedWatch struct {
	log     *zap.Logger
	holdFor time.Duration

	mu       sync.Mutex
	rawPeers []netip.Addr              // guarded by mu: the raw IP-in-IP peers (setPeers on reload)
	since    map[ipipBlocked]time.Time // guarded by mu: when each was first seen blocked
	logged   map[ipipBlocked]bool      // guarded by mu
	now      []ipipBlocked             // guarded by mu: held long enough, still blocked
}

func newBlockedWatch(log *zap.Logger, rawPeers []netip.Addr, holdFor time.Duration) *blockedWatch {
	return &blockedWatch{log: log, rawPeers: rawPeers, holdFor: holdFor,
		since: map[ipipBlocked]time.Time{}, logged: map[ipipBlocked]bool{}}
}

// setPeers replaces the raw IP-in-IP peers watched (a reload).
func (w *blockedWatch) setPeers(raw []netip.Addr) {
	w.mu.Lock()
	w.rawPeers = raw
	w.mu.Unlock()
}

// update takes a fresh status; it logs outside its lock.
func (w *blockedWatch) update(st *aggregator.Status, at time.Time) {
	w.mu.Lock()
	raw := w.rawPeers
	w.mu.Unlock()
	cur := blockedNow(st, raw)
	var held, toLog []ipipBlocked
	w.mu.Lock()
	for k := range w.since {
		if !slices.Contains(cur, k) {
			delete(w.since, k)
		}
	}
	for _, b := range cur {
		first, ok := w.since[b]
		if !ok {
			w.since[b] = at
			continue
		}
		if at.Sub(first) >= w.holdFor {
			held = append(held, b)
			if !w.logged[b] {
				w.logged[b] = true
				toLog = append(toLog, b)
			}
		}
	}
	w.now = held
	w.mu.Unlock()
	for _, b := range toLog {
		w.log.Warn(fmt.Sprintf("IP-in-IP blocked on %s: raw IP-in-IP to %s gets no answer while UDP does; a NAT or firewall on that uplink passes only TCP/UDP/ICMP", b.Local, b.Peer),
			zap.String("nic", b.Local), zap.String("peer", b.Peer))
	}
}

// current returns the blocked list for status.
func (w *blockedWatch) current() []ipipBlocked {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.now)
}

// run updates w from status every interval until done closes.
func (w *blockedWatch) run(status func() aggregator.Status, interval time.Duration, done <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case at := <-t.C:
			st := status()
			w.update(&st, at)
		}
	}
}

// renderBlocked writes one status line per NIC with IP-in-IP blocked.
func renderBlocked(b *strings.Builder, bl []ipipBlocked) {
	for _, x := range bl {
		fmt.Fprintf(b, "  IP-in-IP blocked on %s (to %s): only UDP gets through there\n", x.Local, x.Peer)
	}
}
