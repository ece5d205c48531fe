package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/polylink/polylink/linkmon"
)

// peerSpec is one --peer as given: an address (raw IP-in-IP), an
// address and port (UDP), or a DNS name and port (UDP, resolved at start
// and again when every path to it has been down for a while).
type peerSpec struct {
	text string         // as given, for logs and errors
	addr netip.AddrPort // a literal address; port 0 means raw IP-in-IP
	name string         // a DNS name to resolve ("" for a literal)
	port uint16         // the UDP port of a name
}

// String returns the peer as given.
func (p peerSpec) String() string { return p.text }

// parsePeer reads one --peer value. vip is the virtual network, which a
// peer (a real, underlay address) must not be inside.
func parsePeer(s string, vip netip.Prefix) (peerSpec, error) {
	const want = "want ADDR (raw IP-in-IP, IPv4), ADDR:PORT or [IPv6]:PORT (UDP), or HOST:PORT (UDP, resolved by DNS)"
	p := peerSpec{text: s}
	if a, err := netip.ParseAddr(s); err == nil {
		if !a.Unmap().Is4() {
			return p, usagef("run: --peer %q: raw IP-in-IP is IPv4 only; give a port for UDP, e.g. [%s]:%d", s, a, linkmon.DefaultUDPPort)
		}
		p.addr = netip.AddrPortFrom(a.Unmap(), 0)
	} else if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return p, usagef("run: --peer %q: port 0; %s", s, want)
		}
		p.addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	} else {
		host, port, err := net.SplitHostPort(s)
		n, perr := strconv.ParseUint(port, 10, 16)
		if err != nil || perr != nil || n == 0 || host == "" {
			return p, usagef("run: --peer %q: %s", s, want)
		}
		p.name, p.port = host, uint16(n)
		return p, nil
	}
	if a := p.addr.Addr(); vip.Contains(a) {
		return p, usagef("run: --peer %s is inside the virtual network %s: peers are underlay (real) addresses", a, vip.Masked())
	}
	if a := p.addr.Addr(); a.IsUnspecified() || a.IsMulticast() {
		return p, usagef("run: --peer %q: not a unicast address", s)
	}
	return p, nil
}

// parsePeers reads every --peer value. The same peer given twice is
// refused: a slip (two config lines, a flag repeated), not a wish for two
// copies. The same address raw (ADDR) and over UDP (ADDR:PORT) is two
// peers, and meant: on each NIC raw IP-in-IP carries where it gets through
// and UDP stands by beside it, taking over where a NAT blocks IP-in-IP
// (aggregator/twins.go), and status says where that is.
func parsePeers(values []string, vip netip.Prefix) ([]peerSpec, error) {
	var out []peerSpec
	for _, s := range values {
		p, err := parsePeer(s, vip)
		if err != nil {
			return nil, err
		}
		for _, q := range out {
			if q.addr == p.addr && strings.EqualFold(q.name, p.name) && q.port == p.port {
				return nil, usagef("run: --peer %s and --peer %s are the same peer: give it once", q, p)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// resolveTimeout bounds one DNS resolution of the peers.
const resolveTimeout = 5 * time.Second

// resolvePeers turns the specs into endpoints: literals as they are, each
// name into one endpoint per address it resolves to (IPv4 and IPv6: a
// robot with an IPv6-only uplink reaches the peer's IPv6 address). A name
// that does not resolve is an error naming it.
func resolvePeers(ctx context.Context, specs []peerSpec, r *net.Resolver) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, p := range specs {
		if p.name == "" {
			out = append(out, p.addr)
			continue
		}
		eps, err := resolvePeer(ctx, p, r)
		if err != nil {
			return nil, err
		}
		out = append(out, eps...)
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return slices.Compact(out), nil
}

// resolvePeer resolves one named peer.
func resolvePeer(ctx context.Context, p peerSpec, r *net.Resolver) ([]netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", p.name)
	if err != nil {
		return nil, fmt.Errorf("--peer %s: resolve %s: %w", p.text, p.name, err)
	}
	out := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, netip.AddrPortFrom(a.Unmap(), p.port))
	}
	return out, nil
}

// hasNames reports whether some peer is a DNS name.
func hasNames(specs []peerSpec) bool {
	return slices.ContainsFunc(specs, func(p peerSpec) bool { return p.name != "" })
}

// peerAddrs lists the distinct addresses of the endpoints.
func peerAddrs(eps []netip.AddrPort) []netip.Addr {
	var out []netip.Addr
	for _, ep := range eps {
		if !slices.Contains(out, ep.Addr()) {
			out = append(out, ep.Addr())
		}
	}
	return out
}

// rawPeers lists the peers given as raw IP-in-IP addresses.
func rawPeers(specs []peerSpec) []netip.Addr {
	var out []netip.Addr
	for _, p := range specs {
		if p.name == "" && p.addr.Port() == 0 {
			out = append(out, p.addr.Addr())
		}
	}
	return out
}

// literalPeers lists the addresses of the peers given as addresses (not
// DNS names).
func literalPeers(specs []peerSpec) []netip.Addr {
	var out []netip.Addr
	for _, p := range specs {
		if p.name == "" {
			out = append(out, p.addr.Addr())
		}
	}
	return out
}

// twinPeers lists the addresses given both raw (ADDR) and over UDP
// (ADDR:PORT).
func twinPeers(specs []peerSpec) []netip.Addr {
	var out []netip.Addr
	for _, a := range rawPeers(specs) {
		if slices.ContainsFunc(specs, func(p peerSpec) bool { return p.name == "" && p.addr.Port() != 0 && p.addr.Addr() == a }) {
			out = append(out, a)
		}
	}
	return out
}
