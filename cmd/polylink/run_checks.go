package main

import (
	"net"
	"net/netip"
	"path"
	"strings"

	"github.com/polylink/polylink/router"
)

// checkRunFlags refuses flag values that parse but cannot work, each with
// one line naming the flag and what to give instead (exit 2). explicitControl
// says --control was given rather than defaulted.
func checkRunFlags(c *runConfig, explicitControl bool) error {
	if !validDevName(c.tun) {
		return usagef("run: --tun %q: want a device name of 1 to 15 characters without '/', ':' or spaces", c.tun)
	}
	for _, p := range c.exclude {
		if _, err := path.Match(p, ""); err != nil {
			return usagef("run: --exclude %q: not a valid name pattern (%v); use names or globs such as 'docker*'", p, err)
		}
	}
	for _, r := range c.routes {
		if !router.ValidHostAddr(c.vip, r.Via) || r.Via == c.vip.Addr() {
			return usagef("run: --route %s=%s: the next hop must be another host of the virtual network %s", r.Prefix, r.Via, c.vip.Masked())
		}
	}
	// A host is forgotten only after its paths are dead: a shorter timeout
	// would drop hosts over one lost probe.
	if dead := 3 * c.probe; c.hostTTL < 2*dead {
		return usagef("run: --host-timeout %v: want at least %v (twice the dead interval, 3 × --probe %v)", c.hostTTL, 2*dead, c.probe)
	}
	if explicitControl {
		return checkControlDir(c.control)
	}
	return nil
}

// validDevName is the kernel's rule for a network device name
// (dev_valid_name): 1 to 15 bytes, not "." or "..", no '/', ':' or space.
func validDevName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/: \t\n\r\v\f")
}

// checkPeersNotLocal refuses a --peer that is one of this machine's own
// addresses: the node would be its own peer, and its probes would never
// reach another node.
func checkPeersNotLocal(peers []netip.Addr) error {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil // the daemon reports what is wrong with the NICs itself
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		for _, p := range peers {
			if ip.Unmap() == p {
				return usagef("run: --peer %s is an address of this machine: give the other node's underlay address", p)
			}
		}
	}
	return nil
}
