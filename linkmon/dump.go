package linkmon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpAttempts bounds the retries of a dump the kernel interrupted because
// the tables changed while it was being read. Each retry is a fresh dump;
// a burst long enough to interrupt this many in a row also queues netlink
// messages that trigger yet another read.
const dumpAttempts = 10

// readDump reads every link, address and unicast route through h, retrying dumps the
// kernel marked interrupted (netlink.ErrDumpInterrupted): those are partial
// and must not be diffed.
func readDump(h *netlink.Handle) (dump, error) {
	var err error
	for range dumpAttempts {
		var d dump
		d, err = readDumpOnce(h)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return d, err
		}
	}
	return dump{}, fmt.Errorf("dump links and addresses: interrupted %d times in a row: %w", dumpAttempts, err)
}

func readDumpOnce(h *netlink.Handle) (dump, error) {
	links, err := h.LinkList()
	if err != nil {
		return dump{}, fmt.Errorf("dump links: %w", err)
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return dump{}, fmt.Errorf("dump addresses: %w", err)
	}
	routes, err := readRoutes(h)
	if err != nil {
		return dump{}, err
	}
	d := dump{Links: make([]linkState, 0, len(links)), Addrs: make([]addrState, 0, len(addrs)), Routes: routes}
	for _, l := range links {
		a := l.Attrs()
		d.Links = append(d.Links, linkState{
			Index:    a.Index,
			Name:     a.Name,
			MTU:      a.MTU,
			Up:       a.Flags&net.FlagUp != 0,
			Loopback: a.Flags&net.FlagLoopback != 0,
			Oper:     a.OperState,
		})
	}
	for _, a := range addrs {
		if p, ok := ipPrefix(a.IPNet); ok {
			d.Addrs = append(d.Addrs, addrState{
				Index:     a.LinkIndex,
				Prefix:    p,
				Secondary: a.Flags&unix.IFA_F_SECONDARY != 0,
				Unusable:  p.Addr().Is6() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED|unix.IFA_F_DEPRECATED) != 0,
			})
		}
	}
	return d, nil
}

// ipPrefix converts a netlink address to a netip.Prefix (IPv4 unmapped),
// reporting false for anything malformed.
func ipPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if ip4 := n.IP.To4(); ip4 != nil && bits == 32 {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(ip4)), ones), true
	}
	if len(n.IP) == net.IPv6len && bits == 128 {
		return netip.PrefixFrom(netip.AddrFrom16([16]byte(n.IP)), ones), true
	}
	return netip.Prefix{}, false
}
