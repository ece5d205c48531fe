package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"

	"github.com/polylink/polylink/testbed/linkemu"
)

// ErrAlreadyUp reports that a testbed with the requested prefix exists
// already (state file or namespaces): bring it down first or use it.
var ErrAlreadyUp = errors.New("testbed already up")

// upFault, when set (tests only), is called at each step of Up and makes
// it fail there, to prove the rollback leaves nothing behind.
var upFault func(step string) error

func checkpoint(ctx context.Context, step string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	if upFault != nil {
		return upFault(step)
	}
	return nil
}

// Up builds the testbed: seven namespaces, eight veth pairs, addresses,
// offloads and IPv6 off, and one emulator per network. On any failure, and
// when ctx is cancelled (Ctrl-C), it removes everything it made before
// returning. A testbed with the same prefix must not exist: Up returns
// ErrAlreadyUp and touches nothing.
func Up(ctx context.Context, opts UpOptions) (*Topology, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.StateDir == "" {
		opts.StateDir = DefaultStateDir
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	for i := range opts.Links {
		if opts.Links[i].Seed == 0 {
			opts.Links[i].Seed = opts.Seed*uint64(len(Nets)) + uint64(i) + 1
		}
	}
	if err := checkAbsent(opts.Prefix, opts.StateDir); err != nil {
		return nil, err
	}
	t := &Topology{Prefix: opts.Prefix, StateDir: opts.StateDir, links: opts.Links, log: opts.Logger}
	owner, err := identify(os.Getpid())
	if err != nil {
		return nil, err
	}
	st := &state{
		Prefix: opts.Prefix, Namespaces: Namespaces(opts.Prefix), Links: opts.Links,
		Persistent: opts.Persistent, Owner: owner, Created: time.Now(),
	}
	// The state file comes first: if this process dies half-way, Down(prefix)
	// from another one still knows what to remove.
	if err := writeJSON(statePath(t.StateDir, t.Prefix), st); err != nil {
		return nil, err
	}
	if err := t.build(ctx, opts, st); err != nil {
		return nil, errors.Join(fmt.Errorf("testbed %s up: %w", t.Prefix, err), t.Down())
	}
	t.log.Info("testbed up", zap.String("prefix", t.Prefix), zap.Bool("persistent", opts.Persistent))
	return t, nil
}

// checkAbsent fails with ErrAlreadyUp if any trace of the testbed exists.
func checkAbsent(prefix, dir string) error {
	if _, err := os.Stat(statePath(dir, prefix)); err == nil {
		return fmt.Errorf("%w: %s has a state file %s; run 'polylink testbed down' first",
			ErrAlreadyUp, prefix, statePath(dir, prefix))
	}
	for _, name := range Namespaces(prefix) {
		if _, err := os.Stat("/run/netns/" + name); err == nil {
			return fmt.Errorf("%w: namespace %s exists; run 'polylink testbed down' first", ErrAlreadyUp, name)
		}
	}
	return nil
}

func (t *Topology) build(ctx context.Context, opts UpOptions, st *state) error {
	if err := checkpoint(ctx, "namespaces"); err != nil {
		return err
	}
	for _, h := range Hosts {
		ns, err := t.newNamespace(h.String())
		if err != nil {
			return err
		}
		t.hosts[h] = ns
	}
	for i, n := range Nets {
		ns, err := t.newNamespace(n.Name)
		if err != nil {
			return err
		}
		t.nets[i] = ns
	}
	if err := checkpoint(ctx, "links"); err != nil {
		return err
	}
	for i := range Nets {
		if err := t.wire(i); err != nil {
			return err
		}
	}
	if err := checkpoint(ctx, "emulators"); err != nil {
		return err
	}
	if opts.Persistent {
		if err := t.spawnEmulators(opts, st); err != nil {
			return err
		}
	} else if err := t.startEmulators(); err != nil {
		return err
	}
	return checkpoint(ctx, "done")
}

// newNamespace creates prefix-suffix with IPv6 off, so router solicitations
// and duplicate address detection add no frames to the links.
func (t *Topology) newNamespace(suffix string) (*Namespace, error) {
	ns, err := NewNamespace(t.Prefix + "-" + suffix)
	if err != nil {
		return nil, err
	}
	if err := disableIPv6(ns); err != nil {
		return nil, errors.Join(err, ns.Close())
	}
	return ns, nil
}

// disableIPv6 turns IPv6 off in ns: no router solicitations or duplicate
// address detection add frames to an emulated link.
func disableIPv6(ns *Namespace) error {
	err := ns.Do(func() error {
		for _, conf := range []string{"all", "default"} {
			p := "/proc/sys/net/ipv6/conf/" + conf + "/disable_ipv6"
			if err := os.WriteFile(p, []byte("1"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("disable IPv6: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s: %w", ns.Name, err)
	}
	return nil
}

// wire connects network i's two hosts to its namespace and configures all
// four veth ends.
func (t *Topology) wire(i int) error {
	spec, mid := Nets[i], t.nets[i]
	for _, side := range []struct {
		end End
		dev string
	}{{spec.Left, netLeftDev}, {spec.Right, netRightDev}} {
		host := t.hosts[side.end.Host]
		if err := addVeth(host, side.end.Dev, mid, side.dev); err != nil {
			return err
		}
		if err := configure(host, side.end.Dev, side.end.Addr.String(), false); err != nil {
			return err
		}
		// The emulator's ends have no address; promiscuous so every frame
		// reaches the packet socket whatever its MAC.
		if err := configure(mid, side.dev, "", true); err != nil {
			return err
		}
	}
	return nil
}

// addVeth creates a veth pair with aDev in a and bDev in b.
func addVeth(a *Namespace, aDev string, b *Namespace, bDev string) error {
	h, err := netlink.NewHandleAt(a.Handle())
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", a.Name, err)
	}
	defer h.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aDev},
		PeerName:      bDev,
		PeerNamespace: netlink.NsFd(b.Handle()),
	}
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s/%s to %s/%s: %w", a.Name, aDev, b.Name, bDev, err)
	}
	return nil
}

// configure turns offloads off on dev (see linkemu.DisableOffloads), adds
// addr unless empty, sets promiscuous mode if asked and brings dev up.
func configure(ns *Namespace, dev, addr string, promisc bool) error {
	fail := func(what string, err error) error {
		return fmt.Errorf("%s %s/%s: %w", what, ns.Name, dev, err)
	}
	if err := ns.Do(func() error { return linkemu.DisableOffloads(dev) }); err != nil {
		return fail("offloads", err)
	}
	h, err := netlink.NewHandleAt(ns.Handle())
	if err != nil {
		return fail("netlink", err)
	}
	defer h.Close()
	link, err := h.LinkByName(dev)
	if err != nil {
		return fail("find", err)
	}
	if addr != "" {
		a, err := netlink.ParseAddr(addr)
		if err != nil {
			return fail("parse address", err)
		}
		if err := h.AddrAdd(link, a); err != nil {
			return fail("add address "+addr+" to", err)
		}
	}
	if promisc {
		if err := h.SetPromiscOn(link); err != nil {
			return fail("promiscuous mode", err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fail("bring up", err)
	}
	return nil
}

// openPorts opens the emulator's two packet ports inside network i.
func openPorts(ns *Namespace) (left, right *linkemu.PacketPort, err error) {
	err = ns.Do(func() error {
		if left, err = linkemu.OpenPacket(netLeftDev); err != nil {
			return err
		}
		if right, err = linkemu.OpenPacket(netRightDev); err != nil {
			return errors.Join(err, left.Close())
		}
		return nil
	})
	return left, right, err
}

// startEmulators runs one bridge per network in this process.
func (t *Topology) startEmulators() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range Nets {
		left, right, err := openPorts(t.nets[i])
		if err != nil {
			return fmt.Errorf("emulator %s: %w", Nets[i].Name, err)
		}
		br, err := linkemu.New(left, right, t.links[i])
		if err != nil {
			return fmt.Errorf("emulator %s: %w", Nets[i].Name, err)
		}
		t.emulators[i] = br
	}
	t.stopState = writeStatus(emuStatusPath(t.StateDir, t.Prefix), t.emulators)
	return nil
}
