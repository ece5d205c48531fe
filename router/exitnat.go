package router

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// The exit: a router node started with --exit lets its hosts reach
// networks outside the virtual one through its own uplink, the way a home
// router lets its LAN out. The router writes a packet for an outside
// address to the TUN (Router.Deliver); the kernel forwards it (ip_forward)
// and masquerades it behind the uplink's address; replies are un-NATed to
// the host's virtual address, routed into the TUN, and the router sends
// them to the host. One nftables table of polylink's own holds the rules,
// created whole and removed whole:
//
//	table ip polylink-TUN {
//	  chain forward {      # filter hook forward: only replies come in
//	    oifname TUN ct state established,related counter accept
//	    oifname TUN iifname != TUN counter drop
//	  }
//	  chain postrouting {  # nat hook postrouting
//	    oifname != TUN ip saddr SOURCE counter masquerade   # per source prefix
//	  }
//	  chain mss {          # filter hook forward priority mangle: TCP MSS clamp
//	    iifname TUN tcp flags syn tcp option maxseg size set rt mtu counter
//	    oifname TUN tcp flags syn tcp option maxseg size set rt mtu counter
//	  }
//	}
//
// The mss chain clamps the MSS that TCP SYNs forwarded through the TUN
// offer, both ways, to the path MTU (`rt mtu`: the smaller of the MTUs of
// the routes towards the destination and back to the source, less 40; the
// kernel only ever lowers an MSS). The TUN's MTU is the tunnel's, smaller
// than an Ethernet uplink's; without the clamp a server outside offers
// 1460 and its full-size segments into the TUN depend on ICMP "fragmentation
// needed" reaching it, which firewalls on the Internet often drop: a TCP
// connection that opens and then stalls. (A robot's own connections already
// offer its TUN's MTU; hosts behind a robot, and every server's reply, do
// not.)
//
// Nothing outside can open a flow into the virtual network, even though
// forwarding is on: a neighbour on the uplink that routes 198.19.0.0/24 to
// this node is dropped by the forward chain. Another firewall's forward
// chain with policy drop (Docker's, for one) still drops the hosts' traffic:
// an accept here does not override a drop elsewhere.

// ipForwardPath is the sysctl the exit needs: the kernel forwards between
// the TUN and the uplink only when it is 1.
const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// forwardCheckEvery is how often the exit checks that ip_forward is still
// on: a network manager or `sysctl --system` may turn it off.
const forwardCheckEvery = 5 * time.Second

// ExitConfig configures an Exit.
type ExitConfig struct {
	// TUN is the name of the router node's TUN.
	TUN string
	// Sources are the prefixes whose packets are masqueraded when they
	// leave through another interface: the virtual network, and the
	// networks static routes send to hosts.
	Sources []netip.Prefix
	// Logger receives the exit's operator events; nil means none.
	Logger *zap.Logger
}

// Exit is the NAT and forwarding setup of an exit router node. Close
// removes it.
type Exit struct {
	table string
	tun   string
	log   *zap.Logger
	// fwd is ip_forward, opened in OpenExit's thread: a /proc/sys/net file
	// belongs to the namespace of the thread that opened it, and the watch
	// runs on any thread.
	fwd *os.File

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// ExitStatus is what the exit shows in `polylink status`.
type ExitStatus struct {
	// Table is the nftables table (family ip).
	Table string `json:"table"`
	// Masqueraded counts flows: the NAT chain sees only the first packet
	// of each connection.
	Masqueraded uint64 `json:"masqueraded_flows"`
	// Replies counts packets let back in to hosts (established, related).
	Replies uint64 `json:"reply_packets"`
	// Refused counts packets from outside that tried to open a flow in.
	Refused uint64 `json:"refused_inbound_packets"`
	// IPForward is net.ipv4.ip_forward, which the exit needs on.
	IPForward bool `json:"ip_forward"`
}

// ExitTableName is the nftables table (family ip) of the exit on TUN tun.
func ExitTableName(tun string) string { return "polylink-" + tun }

// OpenExit installs the exit's nftables table in the calling thread's
// network namespace, replacing one a killed daemon left, and turns
// ip_forward on. It leaves ip_forward on at Close: other software may rely
// on it by then, and a namespace's setting goes with the namespace.
func OpenExit(cfg ExitConfig) (*Exit, error) {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.TUN == "" || len(cfg.Sources) == 0 {
		return nil, errors.New("exit: needs the TUN name and at least one source prefix")
	}
	x := &Exit{table: ExitTableName(cfg.TUN), tun: cfg.TUN, log: log, done: make(chan struct{})}
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("exit: open nftables: %w", err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("exit: list nftables tables: %w%s", err, nftHint(err))
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: x.table}
	for _, old := range tables {
		if old.Name == x.table {
			c.DelTable(old) // a killed daemon's; replaced in the same batch
		}
	}
	c.AddTable(t)
	addExitRules(c, t, cfg)
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("exit: install nftables table %s: %w%s", x.table, err, nftHint(err))
	}
	if x.fwd, err = os.OpenFile(ipForwardPath, os.O_RDWR, 0); err != nil {
		x.removeTable()
		return nil, fmt.Errorf("exit: open %s: %w: --exit needs net.ipv4.ip_forward=1", ipForwardPath, err)
	}
	was, err := enableForwarding(x.fwd)
	if err != nil {
		x.fwd.Close()
		x.removeTable()
		return nil, err
	}
	if !was {
		log.Info("turned net.ipv4.ip_forward on: --exit needs it (it stays on after polylink exits)")
	}
	x.wg.Add(1)
	go x.watchForwarding()
	return x, nil
}

// addExitRules queues the chains and rules of the drawing above.
func addExitRules(c *nftables.Conn, t *nftables.Table, cfg ExitConfig) {
	policy := nftables.ChainPolicyAccept
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &policy})
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, cfg.TUN),
		ctStateIn(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED),
		[]expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept}})})
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, cfg.TUN),
		ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, cfg.TUN),
		[]expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}})})

	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	addMasquerade(c, t, post, cfg.TUN, cfg.Sources)

	mss := c.AddChain(&nftables.Chain{Name: "mss", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityMangle, Policy: &policy})
	for _, dir := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
		c.AddRule(&nftables.Rule{Table: t, Chain: mss, Exprs: concat(
			ifname(dir, expr.CmpOpEq, cfg.TUN), tcpSYN(), clampMSSToPathMTU(),
			[]expr.Any{&expr.Counter{}})})
	}
}

// tcpSYN matches a TCP segment with SYN set (a SYN or a SYN-ACK).
func tcpSYN() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x02}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0}},
	}
}

// clampMSSToPathMTU is `tcp option maxseg size set rt mtu`: the route's
// TCP MSS, in network order, written over the MSS option (kind 2, its
// 2-byte value at offset 2) when that is larger.
func clampMSSToPathMTU() []expr.Any {
	return []expr.Any{
		&expr.Rt{Register: 1, Key: expr.RtTCPMSS},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 2, Size: 2},
		&expr.Exthdr{SourceRegister: 1, Type: 2, Offset: 2, Len: 2, Op: expr.ExthdrOpTcpopt},
	}
}

// addMasquerade queues a masquerade rule per source prefix.
func addMasquerade(c *nftables.Conn, t *nftables.Table, post *nftables.Chain, tun string, sources []netip.Prefix) {
	for _, p := range sources {
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, tun),
			saddrIn(p.Masked()),
			[]expr.Any{&expr.Counter{}, &expr.Masq{}})})
	}
}

// SetSources replaces the prefixes masqueraded while running (a reload),
// in one batch the kernel applies whole: flows already masqueraded keep
// their mapping (conntrack), new ones follow the new rules.
func (x *Exit) SetSources(sources []netip.Prefix) error {
	if len(sources) == 0 {
		return errors.New("exit: needs at least one source prefix")
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("exit: open nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: x.table}
	post := &nftables.Chain{Name: "postrouting", Table: t}
	c.FlushChain(post)
	addMasquerade(c, t, post, x.tun, sources)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("exit: replace the masquerade rules of %s: %w%s", x.table, err, nftHint(err))
	}
	return nil
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ifname compares the packet's input or output interface name.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

// ctStateIn matches a conntrack state among bits.
func ctStateIn(bits uint32) []expr.Any {
	zero := make([]byte, 4)
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: zero},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: zero},
	}
}

// saddrIn matches an IPv4 source address inside p.
func saddrIn(p netip.Prefix) []expr.Any {
	mask := ipNet(p).Mask
	addr := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]},
	}
}

// Table returns the name of the exit's nftables table.
func (x *Exit) Table() string { return x.table }

// Status reads the exit's counters from the kernel.
func (x *Exit) Status() (ExitStatus, error) {
	s := ExitStatus{Table: x.table, IPForward: forwardingOn(x.fwd)}
	c, err := nftables.New()
	if err != nil {
		return s, err
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: x.table}
	for _, chain := range []string{"forward", "postrouting"} {
		rules, err := c.GetRules(t, &nftables.Chain{Name: chain, Table: t})
		if err != nil {
			return s, fmt.Errorf("exit: read nftables chain %s %s: %w", x.table, chain, err)
		}
		for i, r := range rules {
			n := ruleCounter(r)
			switch {
			case chain == "postrouting":
				s.Masqueraded += n
			case i == 0:
				s.Replies += n
			default:
				s.Refused += n
			}
		}
	}
	return s, nil
}

func ruleCounter(r *nftables.Rule) uint64 {
	for _, e := range r.Exprs {
		if c, ok := e.(*expr.Counter); ok {
			return c.Packets
		}
	}
	return 0
}

// Close stops the ip_forward watch and removes the nftables table. It is
// idempotent.
func (x *Exit) Close() error {
	x.closeOnce.Do(func() {
		close(x.done)
		x.wg.Wait()
		x.fwd.Close()
		x.closeErr = x.removeTable()
	})
	return x.closeErr
}

func (x *Exit) removeTable() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("exit: open nftables: %w", err)
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: x.table})
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("exit: remove nftables table %s: %w: remove it with 'nft delete table ip %s'", x.table, err, x.table)
	}
	return nil
}

// watchForwarding turns ip_forward back on, with a warning, whenever
// something else turned it off.
func (x *Exit) watchForwarding() {
	defer x.wg.Done()
	tick := time.NewTicker(forwardCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-x.done:
			return
		case <-tick.C:
		}
		was, err := enableForwarding(x.fwd)
		switch {
		case err != nil:
			x.log.Warn("cannot check net.ipv4.ip_forward; the exit forwards nothing while it is off", zap.Error(err))
		case !was:
			x.log.Warn("net.ipv4.ip_forward was turned off by something else; turned it on again (--exit needs it: set it in /etc/sysctl.d)")
		}
	}
}

// enableForwarding turns ip_forward (the open sysctl f) on and reports
// whether it was on.
func enableForwarding(f *os.File) (bool, error) {
	if forwardingOn(f) {
		return true, nil
	}
	if _, err := f.WriteAt([]byte("1\n"), 0); err != nil {
		return false, fmt.Errorf("exit: turn on %s: %w: --exit needs it; set net.ipv4.ip_forward=1", ipForwardPath, err)
	}
	return false, nil
}

func forwardingOn(f *os.File) bool {
	var b [8]byte
	n, err := f.ReadAt(b[:], 0)
	if err != nil && n == 0 {
		return false
	}
	return strings.TrimSpace(string(b[:n])) == "1"
}

func nftHint(err error) string {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return ": needs root or CAP_NET_ADMIN"
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EOPNOTSUPP):
		return ": this kernel lacks nf_tables or its NAT support (modprobe nf_tables nft_masq)"
	}
	return ""
}

// leaves reports whether an exit router node hands a packet for dst to its
// kernel to forward out: dst is outside the virtual network, no static
// route covers it and no host has it as its address.
func (r *Router) leaves(dst netip.Addr) bool {
	if !r.exit || r.prefix.Contains(dst) {
		return false
	}
	for _, rt := range r.staticRoutes() {
		if rt.Prefix.Contains(dst) {
			return false
		}
	}
	return !r.bundles.HasHost(dst)
}
