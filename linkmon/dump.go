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

// readDump reads every link and IPv4 address through h, retrying dumps the
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
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return dump{}, fmt.Errorf("dump IPv4 addresses: %w", err)
	}
	d := dump{Links: make([]linkState, 0, len(links)), Addrs: make([]addrState, 0, len(addrs))}
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
		if p, ok := ipv4Prefix(a.IPNet); ok {
			d.Addrs = append(d.Addrs, addrState{
				Index:     a.LinkIndex,
				Prefix:    p,
				Secondary: a.Flags&unix.IFA_F_SECONDARY != 0,
			})
		}
	}
	return d, nil
}

// ipv4Prefix converts a netlink address to a netip.Prefix, reporting false
// for anything that is not IPv4.
func ipv4Prefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip4 := n.IP.To4()
	ones, bits := n.Mask.Size()
	if ip4 == nil || bits != 32 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte(ip4)), ones), true
}
