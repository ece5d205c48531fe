package router

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// PrefixInUse returns the name of an interface in the calling thread's network
// namespace with an IPv4 address whose prefix overlaps p, or "" if there is
// none, so a node can refuse a virtual prefix that would shadow a real
// network. Call it before OpenTUN: afterwards the TUN itself overlaps p.
func PrefixInUse(p netip.Prefix) (string, error) {
	if !p.IsValid() || !p.Addr().Is4() {
		return "", fmt.Errorf("check prefix %s: not an IPv4 prefix: give one such as 198.19.0.0/24", p)
	}
	addrs, err := listIPv4Addrs()
	if err != nil {
		return "", err
	}
	p = p.Masked()
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		if !netip.PrefixFrom(ip, ones).Masked().Overlaps(p) {
			continue
		}
		if link, err := netlink.LinkByIndex(a.LinkIndex); err == nil {
			return link.Attrs().Name, nil
		}
		if a.Label != "" {
			return a.Label, nil
		}
		return fmt.Sprintf("ifindex %d", a.LinkIndex), nil
	}
	return "", nil
}

// listIPv4Addrs dumps all IPv4 addresses, retrying a dump the kernel
// interrupted because addresses changed while it ran.
func listIPv4Addrs() ([]netlink.Addr, error) {
	const attempts = 5
	var err error
	for range attempts {
		var addrs []netlink.Addr
		addrs, err = netlink.AddrList(nil, netlink.FAMILY_V4)
		if err == nil {
			return addrs, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, fmt.Errorf("list IPv4 addresses: %w%s", err, netlinkHint(err))
}
