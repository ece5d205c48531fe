package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/linkmon"
	"github.com/polylink/polylink/router"
	"github.com/polylink/polylink/wire"
)

// outerIPv4Len is the outer header the kernel writes on every raw send.
const outerIPv4Len = 20

// runConfig is `polylink run`'s validated configuration.
type runConfig struct {
	vip       netip.Prefix
	peers     []peerSpec
	port      uint16 // the UDP port this node receives on
	tun       string
	exclude   []string
	probe     time.Duration
	relay     bool
	exit      bool
	routes    []router.Route
	control   string
	mtu       int
	maxHosts  int
	maxNICs   int
	hostTTL   time.Duration
	logFormat string
	verbose   bool
	cpuProf   string
	metrics   string   // ADDR:PORT of the Prometheus exporter, "" for none
	config    string   // the --config file, "" for none
	args      []string // the command line, read again on reload
	policy    policySpec
	keyed     keyedConfig
}

// parseRunFlags reads run's flags and, with --config, its config file.
func parseRunFlags(args []string) (runConfig, error) {
	var file configFile
	c, err := parseRunArgs(args, &file)
	c.config, c.args = file.path, args
	return c, file.locate(err)
}

func parseRunArgs(args []string, file *configFile) (runConfig, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var (
		c                          runConfig
		vip                        string
		peers, excludes, routeArgs listFlag
		keyedFlags                 keyedArgs
	)
	registerKeyedFlags(fs, &keyedFlags)
	fs.StringVar(&vip, "vip", "", "this node's virtual address and prefix, e.g. 198.19.0.2/24 (required)")
	fs.Var(&peers, "peer", "a node to reach (repeatable; a --router node needs none): ADDR = raw IP-in-IP, ADDR:PORT or [IPv6]:PORT = UDP, HOST:PORT = UDP to a DNS name")
	port := fs.Uint("port", linkmon.DefaultUDPPort, "UDP port this node receives on (every usable NIC, IPv4 and IPv6)")
	fs.StringVar(&c.tun, "tun", "pl0", "name of the TUN device to create")
	fs.Var(&excludes, "exclude", "NIC name or glob never used as a path, e.g. 'docker*' (repeatable)")
	fs.DurationVar(&c.probe, "probe", 100*time.Millisecond, "probe interval per path; a path silent for 3 intervals is down")
	fs.BoolVar(&c.relay, "router", false, "router node: accept hosts not listed as peers and relay between them")
	fs.Var(&routeArgs, "route", "route PREFIX=NEXT_HOP_VIP: the kernel sends PREFIX into the TUN, the router to that host (repeatable; 0.0.0.0/0 for everything)")
	fs.BoolVar(&c.exit, "exit", false, "router node: forward hosts' traffic for other networks out of this node's uplink, masqueraded (nftables; turns on ip_forward)")
	fs.StringVar(&c.control, "control", "", "control socket path (default /run/polylink/TUN.sock; in another network namespace /run/polylink/netns-INODE/TUN.sock)")
	fs.IntVar(&c.mtu, "mtu", 1500-outerIPv4Len-wire.HeaderLen, "largest TUN MTU: the underlay MTU less 36 bytes of headers; lowered at run time to the smallest path MTU less its encapsulation (UDP +8, IPv6 +20)")
	fs.IntVar(&c.maxHosts, "max-hosts", 256, "most hosts remembered (the longest-silent one is evicted)")
	fs.IntVar(&c.maxNICs, "max-nics", 8, "most NICs remembered per remote host (the longest-silent one is evicted)")
	fs.DurationVar(&c.hostTTL, "host-timeout", 10*time.Second, "forget a host silent this long")
	fs.StringVar(&c.logFormat, "log", "console", "log format: console or json")
	fs.BoolVar(&c.verbose, "verbose", false, "log debug detail too")
	fs.StringVar(&c.cpuProf, "cpuprofile", "", "write a Go CPU profile to this file until exit (for developers)")
	fs.StringVar(&c.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR:PORT/metrics, e.g. 127.0.0.1:9469")
	fs.StringVar(&file.path, "config", "", "read settings from this TOML file (keys are these flags' names); flags given here win")
	pf := addPolicyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if err := file.apply(fs); err != nil {
		return c, err
	}
	if vip == "" {
		return c, usagef("run: --vip is required, e.g. --vip 198.19.0.2/24")
	}
	p, err := netip.ParsePrefix(vip)
	if err != nil || !p.Addr().Is4() {
		return c, usagef("run: --vip %q: want an IPv4 address with prefix length, e.g. 198.19.0.2/24", vip)
	}
	if p.Bits() > 30 || p.Addr() == p.Masked().Addr() {
		return c, usagef("run: --vip %s: need a host address in a prefix of /30 or wider", vip)
	}
	c.vip = p
	if c.peers, err = parsePeers(peers, p); err != nil {
		return c, err
	}
	if *port == 0 || *port > 65535 {
		return c, usagef("run: --port %d: want 1 to 65535", *port)
	}
	c.port = uint16(*port)
	if len(c.peers) == 0 && !c.relay {
		return c, usagef("run: give at least one --peer (the other node's underlay address), or --router for a router node")
	}
	for _, s := range routeArgs {
		r, err := router.ParseRoute(s)
		if err != nil {
			return c, usagef("run: --route: %v", err)
		}
		c.routes = append(c.routes, r)
	}
	if err := validateExit(c); err != nil {
		return c, err
	}
	c.exclude = excludes
	if err := parseKeyed(&c, &keyedFlags, fs); err != nil {
		return c, err
	}
	if c.probe < 10*time.Millisecond || c.probe > 10*time.Second {
		return c, usagef("run: --probe %v: want between 10ms and 10s", c.probe)
	}
	if c.mtu < 576 || c.mtu > aggregator.MaxPacket {
		return c, usagef("run: --mtu %d: want 576 to %d", c.mtu, aggregator.MaxPacket)
	}
	if c.maxHosts < 1 || c.maxNICs < 1 {
		return c, usagef("run: --max-hosts and --max-nics must be at least 1")
	}
	if c.metrics != "" {
		if err := checkMetricsAddr(c.metrics); err != nil {
			return c, err
		}
	}
	explicitControl := c.control != ""
	if c.control == "" {
		c.control = defaultControlPath(c.tun)
	}
	if err := checkRunFlags(&c, explicitControl); err != nil {
		return c, err
	}
	if c.logFormat != "console" && c.logFormat != "json" {
		return c, usagef("run: --log %q: want console or json", c.logFormat)
	}
	if c.policy, err = pf.policy(); err != nil {
		return c, err
	}
	return c, nil
}

func runCommand(args []string) error {
	// One P unless GOMAXPROCS says otherwise: a packet's work is a few
	// non-blocking system calls, and with a second P the runtime wakes
	// another thread to spin at almost every packet. Measured with
	// BenchmarkTunnelThroughput: 68 vs 100 µs of CPU per packet at 1,000
	// packet/s, 46 vs 63 at 10,000, and more throughput at 50,000.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	cfg, err := parseRunFlags(args)
	if err != nil {
		return err
	}
	if err := checkCaps(); err != nil {
		return err
	}
	if err := checkPeersNotLocal(literalPeers(cfg.peers)); err != nil {
		return err
	}
	log, err := newLogger(cfg.logFormat, cfg.verbose)
	if err != nil {
		return usagef("run: %v", err)
	}
	defer log.Sync()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.cpuProf != "" {
		f, err := os.Create(cfg.cpuProf)
		if err != nil {
			return fmt.Errorf("run: --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("run: --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return runDaemon(ctx, cfg, log)
}

// runDaemon wires TUN, engine, router, NIC monitor and control socket, runs
// until ctx ends, then takes everything down in the one safe order: stop
// the sources of work first (status clients, NIC events, the TUN reader),
// then the engine that served them.
func runDaemon(ctx context.Context, cfg runConfig, log *zap.Logger) (err error) {
	hup := reloadSignals()
	if name, err := router.PrefixInUse(cfg.vip.Masked()); err != nil {
		return fmt.Errorf("run: %w", err)
	} else if name == cfg.tun && tunAttached(name) {
		return fmt.Errorf("run: polylink already runs on %s: stop it first ('polylink status --tun %s' shows it), or give this one another --tun and --vip", name, name)
	} else if name != "" {
		return fmt.Errorf("run: virtual network %s overlaps an address on %s: pick another --vip", cfg.vip.Masked(), name)
	}
	keyed, err := buildKeyed(cfg)
	if err != nil {
		return err
	}
	var teardown []func() // run last to first
	defer func() {
		for i := len(teardown) - 1; i >= 0; i-- {
			teardown[i]()
		}
	}()
	tun, err := router.OpenTUN(router.TUNConfig{Name: cfg.tun, Prefix: cfg.vip, MTU: cfg.mtu})
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	teardown = append(teardown, func() { tun.Close() })
	kern, err := startKernelSide(cfg, tun, log.Named("kernel"))
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	teardown = append(teardown, kern.Close)

	peers, err := resolvePeers(ctx, cfg.peers, net.DefaultResolver)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	var rt *router.Router
	eng, err := aggregator.New(aggregator.Config{
		VIP: cfg.vip.Addr(), Peers: peers, Router: cfg.relay, ProbeInterval: cfg.probe,
		HostTimeout: cfg.hostTTL, MaxHosts: cfg.maxHosts, MaxRemotesPerHost: cfg.maxNICs, Logger: log.Named("bundle"),
		Deliver:    func(from netip.Addr, pkt []byte) { rt.Deliver(from, pkt) },
		AcceptHost: func(vip netip.Addr) bool { return rt.AcceptHost(vip) },
		Policy:     cfg.policy.engine(),
		Keyed:      keyed,
	})
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	teardown = append(teardown, func() { eng.Close() })
	rt = router.New(router.Config{Device: tun, Prefix: cfg.vip, Relay: cfg.relay, Exit: cfg.exit, Routes: cfg.routes,
		Logger: log.Named("router")}, eng)
	teardown = append(teardown, func() { tun.Close(); rt.Wait() })

	links, err := startLinks(cfg, peers, eng, log.Named("links"), kern.setUplinks)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	teardown = append(teardown, links.Close)
	rt.Start()
	watchers := startWatchers(cfg, peers, eng, &mtuFollower{max: cfg.mtu, bundle: bundleOverhead(keyed != nil), tun: tun, rt: rt, mon: links.mon, log: log.Named("mtu")}, log)
	teardown = append(teardown, watchers.Close)

	ctl, err := listenControl(cfg.control, func() any {
		d := buildStatus(tun, rt, eng, links)
		d.IPIPBlocked = watchers.blocked.current()
		d.Exit = kern.exitStatus()
		return d
	})
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	teardown = append(teardown, func() { ctl.Close() })
	if cfg.metrics != "" {
		m, err := serveMetrics(cfg.metrics, func() statusDoc {
			d := buildStatus(tun, rt, eng, links)
			d.Exit = kern.exitStatus()
			return d
		}, log.Named("metrics"))
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		teardown = append(teardown, m.Close)
		if w := metricsExposure(cfg.metrics, cfg.vip); w != "" {
			log.Warn(w)
		}
	}

	go reloadLoop(ctx, hup, cfg, reloadTarget{eng: eng, links: links, rt: rt, kern: kern, node: keyedNode(keyed), watch: watchers}, log.Named("reload"))
	if keyed == nil { // once started: a start-up error stays one line
		log.Warn("keyless mode: unauthenticated and unencrypted; anyone who can reach this node's addresses can join or inject (give --key to run keyed)")
		if cfg.exit && cfg.relay {
			// A keyless router accepts any host: its exit is an open relay.
			log.Warn("keyless --router with --exit: anyone who can reach this node can send through its uplink, masqueraded as this node (give --key)")
		}
	}
	log.Info("polylink running", zap.String("tun", tun.Name()), zap.Stringer("vip", cfg.vip),
		zap.Strings("peers", endpointTexts(peers)), zap.Uint16("port", cfg.port), zap.Bool("router", cfg.relay), zap.String("control", cfg.control))
	select {
	case <-ctx.Done():
		log.Info("polylink stopping")
		return nil
	case err := <-rt.Fatal():
		return fmt.Errorf("run: %w", err)
	}
}
