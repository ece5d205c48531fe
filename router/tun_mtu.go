package router

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// SetMTU changes the TUN's MTU (the daemon follows the smallest path MTU
// less the encapsulation). It may not exceed the MTU OpenTUN set: reads
// are sized for that.
func (t *TUN) SetMTU(mtu int) error {
	if mtu < MinMTU || mtu > t.mtu {
		return fmt.Errorf("set MTU %d on TUN %s: want %d..%d", mtu, t.name, MinMTU, t.mtu)
	}
	link, err := netlink.LinkByIndex(t.index)
	if err != nil {
		return fmt.Errorf("set MTU %d on TUN %s: %w", mtu, t.name, err)
	}
	if err := netlink.LinkSetMTU(link, mtu); err != nil {
		return fmt.Errorf("set MTU %d on TUN %s: %w", mtu, t.name, err)
	}
	t.curMTU.Store(int64(mtu))
	return nil
}
