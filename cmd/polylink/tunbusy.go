package main

import "github.com/vishvananda/netlink"

// tunAttached reports whether the device name is a TUN that a process holds
// open: the kernel gives a TUN carrier only while a file descriptor is
// attached, so another daemon runs on it. A TUN left behind by `ip tuntap
// add` has none, and polylink may take it over.
func tunAttached(name string) bool {
	l, err := netlink.LinkByName(name)
	if err != nil || l.Type() != "tuntap" {
		return false
	}
	return l.Attrs().RawFlags&0x10000 != 0 // IFF_LOWER_UP: carrier
}
