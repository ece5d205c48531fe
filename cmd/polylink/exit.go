package main

import (
	"fmt"
	"net/netip"
	"strings"

	"go.uber.org/zap"

	"github.com/polylink/polylink/router"
)

// kernelSide is what the daemon changed in the kernel beyond the TUN: the
// routes that send --route prefixes into the TUN and, on an exit node, the
// NAT table. Close undoes it.
type kernelSide struct {
	routes *router.KernelRoutes
	exit   *router.Exit
	log    *zap.Logger
}

// startKernelSide installs cfg's kernel routes into tun and, with --exit,
// the exit's NAT. On failure nothing is left behind.
func startKernelSide(cfg runConfig, tun router.Device, log *zap.Logger) (*kernelSide, error) {
	k := &kernelSide{log: log}
	var prefixes []netip.Prefix
	for _, r := range cfg.routes {
		prefixes = append(prefixes, r.Prefix)
	}
	var err error
	if k.routes, err = router.InstallRoutes(tun.Index(), prefixes); err != nil {
		return nil, err
	}
	if len(prefixes) > 0 {
		log.Info("routes installed into the TUN", zap.Stringers("prefixes", prefixes),
			zap.String("table", fmt.Sprintf("%#x", k.routes.Table())))
	}
	if cfg.exit {
		sources := []netip.Prefix{cfg.vip.Masked()}
		sources = append(sources, prefixes...)
		k.exit, err = router.OpenExit(router.ExitConfig{TUN: tun.Name(), Sources: sources, Logger: log})
		if err != nil {
			k.Close()
			return nil, err
		}
		log.Info("exit open: hosts' traffic to other networks leaves through this node's uplink, masqueraded",
			zap.String("nftables", "ip "+k.exit.Table()), zap.Stringers("sources", sources))
	}
	return k, nil
}

// Close removes the NAT table and the routes, logging what it could not.
func (k *kernelSide) Close() {
	if k.exit != nil {
		if err := k.exit.Close(); err != nil {
			k.log.Warn("exit teardown", zap.Error(err))
		}
	}
	if err := k.routes.Close(); err != nil {
		k.log.Warn("route teardown", zap.Error(err))
	}
}

// exitStatus reads the exit's counters for `status`; nil on a node
// without --exit.
func (k *kernelSide) exitStatus() *router.ExitStatus {
	if k.exit == nil {
		return nil
	}
	s, _ := k.exit.Status() // a failed read shows zero counters
	return &s
}

// validateExit refuses --exit where it cannot work.
func validateExit(c runConfig) error {
	if !c.exit {
		return nil
	}
	if !c.relay {
		return usagef("run: --exit needs --router: only a router node forwards its hosts' traffic out")
	}
	for _, r := range c.routes {
		if r.Prefix.Bits() == 0 {
			return usagef("run: --exit with --route %s: an exit sends out what no route covers, and 0.0.0.0/0 covers everything", r.Prefix)
		}
	}
	return nil
}

// setUplinks keeps a routing rule per NIC address (see router.KernelRoutes).
func (k *kernelSide) setUplinks(addrs []netip.Addr) {
	if err := k.routes.SetUplinks(addrs); err != nil {
		k.log.Warn("uplink routing rules", zap.Error(err))
	}
}

// renderRouting adds the routes and the exit to `polylink status`.
func renderRouting(b *strings.Builder, d *statusDoc) {
	for _, r := range d.Router.Routes {
		fmt.Fprintf(b, "route %s via host %s (kernel: into %s)\n", r.Prefix, r.Via, d.TUN.Name)
	}
	if x := d.Exit; x != nil {
		fwd := "on"
		if !x.IPForward {
			fwd = "OFF: nothing leaves; set net.ipv4.ip_forward=1"
		}
		fmt.Fprintf(b, "exit: nftables table ip %s  ip_forward %s  out %d packets  masqueraded flows %d  replies in %d  refused in %d\n",
			x.Table, fwd, d.Router.Counters.Exited, x.Masqueraded, x.Replies, x.Refused)
	}
}

// setRoutes applies new --route values to a running daemon (a reload): the
// kernel routes into the TUN (only the difference changes), the router's
// table and, on an exit node, the prefixes it masquerades. cfg is the new
// configuration, already validated as at start.
func (k *kernelSide) setRoutes(rt *router.Router, cfg runConfig) error {
	var prefixes []netip.Prefix
	for _, r := range cfg.routes {
		prefixes = append(prefixes, r.Prefix)
	}
	if err := k.routes.Set(prefixes); err != nil {
		return err
	}
	rt.SetRoutes(cfg.routes)
	if k.exit != nil {
		if err := k.exit.SetSources(append([]netip.Prefix{cfg.vip.Masked()}, prefixes...)); err != nil {
			return err
		}
	}
	k.log.Info("routes changed", zap.Stringers("prefixes", prefixes))
	return nil
}
