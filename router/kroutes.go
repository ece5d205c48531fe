package router

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Kernel routes for --route: the kernel must send a routed prefix into the
// TUN before the router can pick its next-hop host. They live in a routing
// table of this TUN's own, reached through policy rules in front of main's,
// so that even 0.0.0.0/0 never replaces the node's own default route:
//
//	32759: from NIC_ADDR lookup main                       per uplink address: the underlay stays on its NIC
//	32760: from all lookup main suppress_prefixlength 0   main's specific routes (LANs, the underlay) win
//	32761: from all lookup 0x706cIIII (I: the TUN's ifindex)   PREFIX dev TUN, for each --route
//	32766: from all lookup main                            main's default route: everything else
//
// The underlay never loops into the TUN, twice over: each link's socket is
// bound to its NIC (SO_BINDTODEVICE), and a lookup for a bound socket skips
// every route whose device is another one, so the TUN's table yields
// nothing for it; and a rule per uplink address (SetUplinks) sends what
// comes from a NIC's own address to main's routes alone. The second also
// keeps the reverse-path filter (rp_filter) content with the underlay's
// incoming packets, whose check looks the sender up "from" the NIC's
// address, and keeps an application that binds to a NIC's address (a
// WebRTC host candidate) on that NIC.

// Priorities of the rules, below main's 32766 and clear of wg-quick's
// 32764/32765.
const (
	rulePrioUplink   = 32759
	rulePrioSuppress = 32760
	rulePrioTable    = 32761
)

// RouteTableBase is the first of polylink's routing tables: the table of the
// TUN with ifindex i is RouteTableBase+i ("pl" in the high bytes, so `ip rule`
// shows whose it is).
const RouteTableBase = 0x706c0000

// routeTableMax bounds what RemoveStaleRoutes takes for polylink's.
const routeTableMax = RouteTableBase + 0xffff

// KernelRoutes are the kernel routes and rules that send static-route
// prefixes into one TUN. Set changes them while running; Close removes them.
// Safe for concurrent use.
type KernelRoutes struct {
	tunIndex int
	table    int

	mu      sync.Mutex
	routes  map[netip.Prefix]netlink.Route // guarded by mu
	rules   []*netlink.Rule                // guarded by mu; empty while there are no routes
	uplinks map[netip.Addr]*netlink.Rule   // guarded by mu; the rules setUplinks added
	upAddrs []netip.Addr                   // guarded by mu; the last SetUplinks, applied while rules exist
}

// RouteTable returns the routing table polylink uses for the TUN with
// ifindex tunIndex.
func RouteTable(tunIndex int) int { return RouteTableBase + tunIndex }

// InstallRoutes routes each prefix into the TUN with ifindex tunIndex, in
// the calling thread's network namespace: a route per prefix in the TUN's
// table and the rules above. Rules left by a polylink that died without
// removing them go first. On failure nothing is left behind.
func InstallRoutes(tunIndex int, prefixes []netip.Prefix) (*KernelRoutes, error) {
	k := &KernelRoutes{tunIndex: tunIndex, table: RouteTable(tunIndex),
		routes: map[netip.Prefix]netlink.Route{}, uplinks: map[netip.Addr]*netlink.Rule{}}
	if err := k.Set(prefixes); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// Table returns the routing table holding the routes.
func (k *KernelRoutes) Table() int { return k.table }

// Set makes the TUN's routes exactly prefixes, adding and removing only
// the difference, so traffic on routes that stay never misses a packet (a
// reload). With no prefixes the rules go too; with the first ones they
// come, stale ones of a killed daemon removed first.
func (k *KernelRoutes) Set(prefixes []netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(prefixes) == 0 {
		return k.removeLocked()
	}
	want := map[netip.Prefix]bool{}
	for _, p := range prefixes {
		want[p.Masked()] = true
	}
	for p := range want {
		if _, ok := k.routes[p]; ok {
			continue
		}
		rt := netlink.Route{
			LinkIndex: k.tunIndex, Dst: ipNet(p), Table: k.table,
			Scope: netlink.SCOPE_LINK, Protocol: unix.RTPROT_STATIC, Family: netlink.FAMILY_V4,
		}
		if err := netlink.RouteReplace(&rt); err != nil {
			return fmt.Errorf("install route %s into the TUN (table %#x): %w%s", p, k.table, err, netlinkHint(err))
		}
		k.routes[p] = rt
	}
	var errs []error
	for p, rt := range k.routes {
		if want[p] {
			continue
		}
		if err := netlink.RouteDel(&rt); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("remove route %s from table %#x: %w", p, k.table, err))
			continue
		}
		delete(k.routes, p)
	}
	if len(k.rules) == 0 {
		if err := k.addRulesLocked(); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// addRulesLocked adds the suppress and table rules (after removing a killed
// daemon's), then the uplink rules SetUplinks asked for.
func (k *KernelRoutes) addRulesLocked() error {
	if err := RemoveStaleRoutes(); err != nil {
		return err
	}
	suppress := netlink.NewRule()
	suppress.Family, suppress.Priority, suppress.Table = netlink.FAMILY_V4, rulePrioSuppress, unix.RT_TABLE_MAIN
	suppress.SuppressPrefixlen = 0
	own := netlink.NewRule()
	own.Family, own.Priority, own.Table = netlink.FAMILY_V4, rulePrioTable, k.table
	for _, r := range []*netlink.Rule{suppress, own} {
		err := netlink.RuleAdd(r)
		if errors.Is(err, unix.EEXIST) {
			// Another polylink's suppress rule, identical to ours: shared;
			// the last one to leave removes it (removeOrphanSuppress).
			continue
		}
		if err != nil {
			return fmt.Errorf("add routing rule %s: %w%s", r, err, netlinkHint(err))
		}
		k.rules = append(k.rules, r)
	}
	return k.setUplinksLocked(k.upAddrs)
}

// Close removes the routes and rules, and the shared rules once no
// polylink table rule remains. Close is idempotent; routes the kernel
// already removed (the TUN went first) are no error.
func (k *KernelRoutes) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.removeLocked()
}

func (k *KernelRoutes) removeLocked() error {
	var errs []error
	for p, rt := range k.routes {
		if err := netlink.RouteDel(&rt); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("remove route %s from table %#x: %w", p, k.table, err))
		}
		delete(k.routes, p)
	}
	if len(k.rules) == 0 {
		return errors.Join(errs...)
	}
	// The uplink rules are shared like the suppress rule: another daemon in
	// this namespace with routes of its own needs them for the same NICs.
	clear(k.uplinks)
	for _, r := range k.rules {
		if r.Table == unix.RT_TABLE_MAIN {
			continue // shared: removeOrphanSuppress decides
		}
		if err := netlink.RuleDel(r); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("remove routing rule %s: %w", r, err))
		}
	}
	k.rules = nil
	errs = append(errs, removeOrphanSuppress())
	return errors.Join(errs...)
}

// RemoveStaleRoutes deletes the rules of polylink tables whose TUN no
// longer exists (a daemon that was killed), and the shared suppress rule
// if no polylink table rule is left. The kernel removed those TUNs' routes
// with the devices.
func RemoveStaleRoutes() error {
	rules, err := polylinkRules()
	if err != nil {
		return err
	}
	for _, r := range rules {
		if _, err := netlink.LinkByIndex(r.Table - RouteTableBase); err == nil {
			continue
		}
		if err := netlink.RuleDel(&r); err != nil && !gone(err) {
			return fmt.Errorf("remove stale routing rule %s: %w%s", r, err, netlinkHint(err))
		}
	}
	return removeOrphanSuppress()
}

// removeOrphanSuppress deletes the shared rules (suppress, uplinks) when no
// polylink table rule is left to need them.
func removeOrphanSuppress() error {
	all, err := netlink.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list routing rules: %w%s", err, netlinkHint(err))
	}
	var suppress []netlink.Rule
	for _, r := range all {
		if r.Table >= RouteTableBase && r.Table <= routeTableMax {
			return nil // still needed
		}
		if r.Table == unix.RT_TABLE_MAIN && (r.Priority == rulePrioSuppress && r.SuppressPrefixlen == 0 ||
			r.Priority == rulePrioUplink && r.Src != nil) {
			suppress = append(suppress, r)
		}
	}
	for _, r := range suppress {
		if err := netlink.RuleDel(&r); err != nil && !gone(err) {
			return fmt.Errorf("remove routing rule %s: %w%s", r, err, netlinkHint(err))
		}
	}
	return nil
}

// SetUplinks makes the rules "from ADDR lookup main" match addrs, the
// addresses of the NICs the underlay uses: it adds the missing ones and
// removes those of addresses gone. While no route is installed it only
// remembers addrs.
func (k *KernelRoutes) SetUplinks(addrs []netip.Addr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.upAddrs = addrs
	if len(k.rules) == 0 {
		return nil
	}
	return k.setUplinksLocked(addrs)
}

func (k *KernelRoutes) setUplinksLocked(addrs []netip.Addr) error {
	want := map[netip.Addr]bool{}
	for _, a := range addrs {
		want[a] = true
	}
	var errs []error
	for a, r := range k.uplinks {
		if want[a] {
			continue
		}
		if err := netlink.RuleDel(r); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("remove routing rule %s: %w", r, err))
		}
		delete(k.uplinks, a)
	}
	for a := range want {
		if _, ok := k.uplinks[a]; ok || !a.Is4() {
			continue
		}
		r := netlink.NewRule()
		r.Family, r.Priority, r.Table = netlink.FAMILY_V4, rulePrioUplink, unix.RT_TABLE_MAIN
		r.Src = ipNet(netip.PrefixFrom(a, 32))
		switch err := netlink.RuleAdd(r); {
		case err == nil:
			k.uplinks[a] = r
		case errors.Is(err, unix.EEXIST):
			// another polylink's: shared, removeOrphanSuppress clears it
		default:
			errs = append(errs, fmt.Errorf("add routing rule %s: %w%s", r, err, netlinkHint(err)))
		}
	}
	return errors.Join(errs...)
}

// polylinkRules lists the rules that look up a polylink table.
func polylinkRules() ([]netlink.Rule, error) {
	all, err := netlink.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list routing rules: %w%s", err, netlinkHint(err))
	}
	var out []netlink.Rule
	for _, r := range all {
		if r.Table >= RouteTableBase && r.Table <= routeTableMax {
			out = append(out, r)
		}
	}
	return out, nil
}

// gone reports a delete of something that is not there any more.
func gone(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
