package testbed

// NATNet is the topology of robots on real uplinks: two robots, each with
// two uplinks, behind the same two strict NATs (masquerading, forwarding
// only TCP, UDP and ICMP, as carrier-grade NATs on LTE do), and a server
// with a public-style address reached through an "internet" router:
//
//	 r1 eth0 198.18.131.11 ─┐                                   ┌─ r1 eth1 198.18.132.11
//	 r2 eth0 198.18.131.12 ─┤ br0 198.18.131.1                  │  r2 eth1 198.18.132.12 ─┤
//	                        nat1 ── wan0 198.18.121.2 ─┐  ┌─ 198.18.122.2 wan0 ── nat2 br0 198.18.132.1
//	                                                  inet
//	                                    198.18.120.2 s0 │ 2001:2:0:120::2
//	                                                   srv eth0 198.18.120.1, 2001:2:0:120::1
//
// Each robot's default route leaves through eth0 (metric 100) and eth1
// (metric 200), as NetworkManager installs them. Optionally r1's eth1 is
// IPv6-only (2001:2:0:132::11, routed by nat2 without NAT, as many LTE
// carriers hand out IPv6) — see NATOptions. With NATOptions.Links each
// robot's uplink runs through a link emulator (delay, loss, jitter, cuts)
// in a namespace of its own between the robot and its NAT, where the radio
// link of a real uplink is.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/polylink/polylink/testbed/linkemu"
)

// NATOptions shapes a NATNet.
type NATOptions struct {
	// Prefix names the namespaces (prefix-PID-N).
	Prefix string
	// V6Uplink makes r1's eth1 IPv6-only: nat2 routes 2001:2:0:132::/64
	// to the server's IPv6 network without NAT.
	V6Uplink bool
	// MiddleMTU, when not 0, is the MTU of the link between inet and
	// nat1: a path narrower than the NICs at either end.
	MiddleMTU int
	// Robots is how many robots to build, 1 or 2 (0 means 2).
	Robots int
	// Uplinks names each robot's NICs on nat1's and nat2's LANs (default
	// eth0 and eth1), e.g. wlan0 and wwan0.
	Uplinks [2]string
	// Links, when set, puts a link emulator on every robot's uplink u with
	// the settings Links[u]; a zero Seed is derived from Seed, the robot
	// and the uplink, so the links lose frames independently.
	Links *[2]linkemu.Config
	Seed  uint64
}

// NATNet is a running NAT topology; Close removes it.
type NATNet struct {
	Server, Inet, NAT1, NAT2 *Namespace
	// Robots are the robots' namespaces; the second is nil with one robot.
	Robots [2]*Namespace
	// Uplinks are the robots' NIC names toward nat1 and nat2.
	Uplinks [2]string
	all     []*Namespace
	prefix  string
	emuNS   [2][2]*Namespace // [robot][uplink], with NATOptions.Links

	mu        sync.Mutex
	emulators [2][2]*linkemu.Bridge // guarded by mu; [robot][uplink], with NATOptions.Links
}

// Addresses of the NAT topology.
const (
	NATServerAddr  = "198.18.120.1"
	NATServerAddr6 = "2001:2:0:120::1"
	NAT1Public     = "198.18.121.2"
	NAT1NewPublic  = "198.18.121.3"
	NAT2Public     = "198.18.122.2"
	NAT2NewPublic  = "198.18.122.3"
)

// RobotAddr returns robot r's (0 or 1) address on uplink u (0: eth0 behind
// nat1, 1: eth1 behind nat2).
func RobotAddr(r, u int) string { return fmt.Sprintf("198.18.13%d.1%d", u+1, r+1) }

// RobotAddr6 is r1's IPv6 address on eth1 with NATOptions.V6Uplink.
const RobotAddr6 = "2001:2:0:132::11"

// UpNAT builds the NAT topology. On error everything built is removed.
func UpNAT(opts NATOptions) (_ *NATNet, err error) {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, errors.New("nat topology: its NATs need nft (apt-get install nftables)")
	}
	if opts.Robots == 0 {
		opts.Robots = 2
	}
	if opts.Robots < 1 || opts.Robots > 2 {
		return nil, fmt.Errorf("nat topology: %d robots: want 1 or 2", opts.Robots)
	}
	for u, def := range []string{"eth0", "eth1"} {
		if opts.Uplinks[u] == "" {
			opts.Uplinks[u] = def
		}
	}
	n := &NATNet{Uplinks: opts.Uplinks, prefix: opts.Prefix}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()
	mk := func() (*Namespace, error) {
		ns, err := NewNamespace(UniqueName(opts.Prefix))
		if err == nil {
			n.all = append(n.all, ns)
		}
		return ns, err
	}
	for _, p := range []**Namespace{&n.Server, &n.Inet, &n.NAT1, &n.NAT2, &n.Robots[0], &n.Robots[1]}[:4+opts.Robots] {
		if *p, err = mk(); err != nil {
			return nil, err
		}
	}
	if err := n.wire(opts); err != nil {
		return nil, err
	}
	if err := n.startEmulators(opts); err != nil {
		return nil, err
	}
	return n, nil
}

// step is one command in a namespace.
type step struct {
	ns   *Namespace
	args string
}

func (n *NATNet) wire(opts NATOptions) error {
	links := []natLink{
		{a: n.Server, aDev: "eth0", b: n.Inet, bDev: "s0"},
		{a: n.NAT1, aDev: "wan0", b: n.Inet, bDev: "n1"},
		{a: n.NAT2, aDev: "wan0", b: n.Inet, bDev: "n2"},
	}
	for r, robot := range n.robots() {
		for u, nat := range []*Namespace{n.NAT1, n.NAT2} {
			links = append(links, natLink{a: robot, aDev: n.Uplinks[u], b: nat, bDev: fmt.Sprintf("lan%d", r+1), emulated: opts.Links != nil, r: r, u: u})
		}
	}
	for _, ns := range n.all {
		// No duplicate address detection: link-local addresses (which
		// neighbour discovery needs) are usable at once, not a second
		// later.
		for _, conf := range []string{"all", "default"} {
			if err := setSysctl(ns, "net.ipv6.conf."+conf+".accept_dad=0"); err != nil {
				return err
			}
		}
	}
	for i := range links {
		if err := n.link(&links[i]); err != nil {
			return err
		}
	}
	steps := []step{
		{n.Server, "ip addr add 198.18.120.1/24 dev eth0"},
		{n.Server, "ip addr add 2001:2:0:120::1/64 dev eth0 nodad"},
		{n.Inet, "ip addr add 198.18.120.2/24 dev s0"},
		{n.Inet, "ip addr add 2001:2:0:120::2/64 dev s0 nodad"},
		{n.Inet, "ip addr add 198.18.121.1/24 dev n1"},
		{n.Inet, "ip addr add 198.18.122.1/24 dev n2"},
		{n.Inet, "ip addr add 2001:2:0:122::1/64 dev n2 nodad"},
		{n.NAT1, "ip addr add 198.18.121.2/24 dev wan0"},
		{n.NAT2, "ip addr add 198.18.122.2/24 dev wan0"},
		{n.NAT2, "ip addr add 2001:2:0:122::2/64 dev wan0 nodad"},
	}
	for _, nat := range []*Namespace{n.NAT1, n.NAT2} {
		lan := "198.18.131.1/24"
		if nat == n.NAT2 {
			lan = "198.18.132.1/24"
		}
		steps = append(steps,
			step{nat, "ip link add br0 type bridge"},
			step{nat, "ip link set lan1 master br0"},
		)
		if opts.Robots == 2 {
			steps = append(steps, step{nat, "ip link set lan2 master br0"})
		}
		steps = append(steps,
			step{nat, "ip addr add " + lan + " dev br0"},
			step{nat, "sysctl -qw net.ipv4.conf.all.promote_secondaries=1"},
			step{nat, "sysctl -qw net.ipv4.conf.wan0.promote_secondaries=1"},
		)
	}
	up0, up1 := n.Uplinks[0], n.Uplinks[1]
	for r, robot := range n.robots() {
		steps = append(steps, step{robot, fmt.Sprintf("ip addr add %s/24 dev %s", RobotAddr(r, 0), up0)})
		if r == 0 && opts.V6Uplink {
			steps = append(steps, step{robot, "ip addr add " + RobotAddr6 + "/64 dev " + up1 + " nodad"})
		} else {
			steps = append(steps, step{robot, fmt.Sprintf("ip addr add %s/24 dev %s", RobotAddr(r, 1), up1)})
		}
	}
	steps = append(steps, step{n.NAT2, "ip addr add 2001:2:0:132::1/64 dev br0 nodad"})
	for _, ns := range n.all {
		steps = append(steps, step{ns, "ip link set lo up"})
	}
	for _, l := range links {
		steps = append(steps, step{l.a, "ip link set " + l.aDev + " up"}, step{l.b, "ip link set " + l.bDev + " up"})
	}
	for _, nat := range []*Namespace{n.NAT1, n.NAT2} {
		steps = append(steps, step{nat, "ip link set br0 up"})
	}
	if opts.MiddleMTU > 0 {
		steps = append(steps, step{n.Inet, fmt.Sprintf("ip link set n1 mtu %d", opts.MiddleMTU)},
			step{n.NAT1, fmt.Sprintf("ip link set wan0 mtu %d", opts.MiddleMTU)})
	}
	for _, ns := range []*Namespace{n.Inet, n.NAT1, n.NAT2} {
		steps = append(steps, step{ns, "sysctl -qw net.ipv4.ip_forward=1"}, step{ns, "sysctl -qw net.ipv6.conf.all.forwarding=1"})
	}
	steps = append(steps,
		step{n.Server, "ip route add default via 198.18.120.2"},
		step{n.Server, "ip -6 route add default via 2001:2:0:120::2"},
		step{n.Inet, "ip -6 route add 2001:2:0:132::/64 via 2001:2:0:122::2"},
		step{n.NAT1, "ip route add default via 198.18.121.1"},
		step{n.NAT2, "ip route add default via 198.18.122.1"},
		step{n.NAT2, "ip -6 route add default via 2001:2:0:122::1"},
	)
	for r, robot := range n.robots() {
		steps = append(steps, step{robot, "ip route add default via 198.18.131.1 dev " + up0 + " metric 100"})
		if r == 0 && opts.V6Uplink {
			steps = append(steps, step{robot, "ip -6 route add default via 2001:2:0:132::1 dev " + up1 + " metric 200"})
		} else {
			steps = append(steps, step{robot, "ip route add default via 198.18.132.1 dev " + up1 + " metric 200"})
		}
	}
	for _, s := range steps {
		f := strings.Fields(s.args)
		var err error
		if f[0] == "sysctl" {
			err = setSysctl(s.ns, f[len(f)-1])
		} else {
			_, err = s.ns.Run(f[0], f[1:]...)
		}
		if err != nil {
			return err
		}
	}
	for _, nat := range []*Namespace{n.NAT1, n.NAT2} {
		if err := nft(nat, strictNAT); err != nil {
			return err
		}
	}
	return nil
}

// setSysctl does what `sysctl -w KEY=VALUE` does, inside ns, without
// needing procps: it writes /proc/sys/KEY (dots as slashes) from a thread
// in the namespace, whose /proc/sys/net is the namespace's.
func setSysctl(ns *Namespace, kv string) error {
	key, value, _ := strings.Cut(kv, "=")
	return ns.Do(func() error {
		if err := os.WriteFile("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s in %s: %w", kv, ns.Name, err)
		}
		return nil
	})
}

// strictNAT is the ruleset of both NATs: masquerade what leaves through
// wan0, forward only TCP, UDP and ICMP from the LAN (IP-in-IP and anything
// else is dropped, as carrier-grade NATs do), and only replies back in.
const strictNAT = `table inet polylink_nat {
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "br0" oifname "wan0" meta l4proto { tcp, udp, icmp, ipv6-icmp } accept
	}
	chain postrouting {
		type nat hook postrouting priority 100;
		oifname "wan0" meta nfproto ipv4 masquerade
	}
}
`

// nft loads a ruleset into ns.
func nft(ns *Namespace, ruleset string) error {
	cmd := ns.Command(context.Background(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s", ns.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// CutUplink drops (down true) or passes again (false) everything between
// the internet and NAT nat (1 or 2): the uplinks behind it go silent
// without any NIC changing state, as when a carrier's network stalls.
func (n *NATNet) CutUplink(nat int, down bool) error {
	if !down {
		_, err := n.Inet.Run("nft", "delete", "table", "inet", fmt.Sprintf("polylink_cut%d", nat))
		return err
	}
	return nft(n.Inet, fmt.Sprintf(`table inet polylink_cut%[1]d {
	chain forward {
		type filter hook forward priority -10;
		iifname "n%[1]d" drop
		oifname "n%[1]d" drop
	}
}
`, nat))
}

// ReaddressNAT1 is Readdress(1).
func (n *NATNet) ReaddressNAT1() error { return n.Readdress(1) }

// Readdress gives NAT nat (1 or 2) a new public address (NAT1NewPublic,
// NAT2NewPublic) and removes the old one: its masqueraded flows are
// dropped by the kernel and new ones leave from the new address, as after
// a NAT reboot or a carrier handing out a new address.
func (n *NATNet) Readdress(nat int) error {
	ns, old, addr := n.NAT1, NAT1Public, NAT1NewPublic
	if nat == 2 {
		ns, old, addr = n.NAT2, NAT2Public, NAT2NewPublic
	}
	if _, err := ns.Run("ip", "addr", "add", addr+"/24", "dev", "wan0"); err != nil {
		return err
	}
	_, err := ns.Run("ip", "addr", "del", old+"/24", "dev", "wan0")
	return err
}

// Close stops the emulators and removes every namespace of the topology.
func (n *NATNet) Close() error {
	var errs []error
	n.mu.Lock()
	for r := range n.emulators {
		for u, br := range n.emulators[r] {
			if br != nil {
				errs = append(errs, br.Close())
				n.emulators[r][u] = nil
			}
		}
	}
	n.mu.Unlock()
	for i := len(n.all) - 1; i >= 0; i-- {
		errs = append(errs, n.all[i].Close())
	}
	n.all = nil
	return errors.Join(errs...)
}
