package testbed

import (
	"fmt"

	"github.com/polylink/polylink/testbed/linkemu"
)

// natLink is one veth link of a NATNet; an emulated one (robot r's uplink
// u) runs through a namespace of its own in which a link emulator bridges
// two veths, as the networks of the VM topology do.
type natLink struct {
	a, b       *Namespace
	aDev, bDev string
	emulated   bool
	r, u       int
}

// robots returns the robots' namespaces that exist.
func (n *NATNet) robots() []*Namespace {
	if n.Robots[1] == nil {
		return n.Robots[:1]
	}
	return n.Robots[:]
}

// link creates l: a veth pair, or two through an emulator namespace with
// offloads off on all four ends (the emulator's packet sockets see whole
// frames, never a segmentation offload's super-frames).
func (n *NATNet) link(l *natLink) error {
	if !l.emulated {
		return Veth(l.a, l.aDev, l.b, l.bDev)
	}
	emu, err := NewNamespace(UniqueName(n.prefix))
	if err != nil {
		return err
	}
	n.all = append(n.all, emu)
	n.emuNS[l.r][l.u] = emu
	if err := disableIPv6(emu); err != nil {
		return err
	}
	if err := Veth(l.a, l.aDev, emu, netLeftDev); err != nil {
		return err
	}
	if err := Veth(emu, netRightDev, l.b, l.bDev); err != nil {
		return err
	}
	for _, end := range []struct {
		ns  *Namespace
		dev string
	}{{l.a, l.aDev}, {l.b, l.bDev}} {
		if err := end.ns.Do(func() error { return linkemu.DisableOffloads(end.dev) }); err != nil {
			return fmt.Errorf("offloads %s/%s: %w", end.ns.Name, end.dev, err)
		}
	}
	for _, dev := range []string{netLeftDev, netRightDev} {
		if err := configure(emu, dev, "", true); err != nil {
			return err
		}
	}
	return nil
}

// startEmulators starts the emulator of every emulated robot uplink: its
// left port faces the robot, so Config.AB shapes what the robot sends.
func (n *NATNet) startEmulators(opts NATOptions) error {
	if opts.Links == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for r := range n.robots() {
		for u := range 2 {
			left, right, err := openPorts(n.emuNS[r][u])
			if err != nil {
				return fmt.Errorf("emulator of robot %d's %s: %w", r+1, n.Uplinks[u], err)
			}
			cfg := opts.Links[u]
			if cfg.Seed == 0 {
				cfg.Seed = opts.Seed*4 + uint64(2*r+u) + 1
			}
			if n.emulators[r][u], err = linkemu.New(left, right, cfg); err != nil {
				return fmt.Errorf("emulator of robot %d's %s: %w", r+1, n.Uplinks[u], err)
			}
		}
	}
	return nil
}

// Emulator returns the emulator on robot r's uplink u (0 toward nat1, 1
// toward nat2), nil without NATOptions.Links.
func (n *NATNet) Emulator(r, u int) *linkemu.Bridge {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.emulators[r][u]
}
