package linkmon

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// PathMTU returns the MTU the kernel uses toward dst through the NIC with
// this index: the NIC's MTU, or less once an ICMP "fragmentation needed"
// (IPv6: "packet too big") from a narrower link on the way taught it the
// path MTU. Every socket of the monitor sets DF, so such a path refuses
// larger packets (EMSGSIZE) rather than fragmenting them.
func (m *Monitor) PathMTU(index int, dst netip.Addr) (int, error) {
	var mtu int
	err := do(m.ns, func() error {
		routes, err := netlink.RouteGetWithOptions(net.IP(dst.Unmap().AsSlice()), &netlink.RouteGetOptions{OifIndex: index})
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.MTU > 0 && (mtu == 0 || r.MTU < mtu) {
				mtu = r.MTU
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("path MTU to %s via NIC %d: %w", dst, index, err)
	}
	if mtu == 0 {
		for _, n := range m.NICs() {
			if n.Index == index {
				mtu = n.MTU
			}
		}
	}
	return mtu, nil
}
