package router

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Bundles is what the router needs of the bundle engine.
type Bundles interface {
	// Send sends one IPv4 packet to a host over all its working paths.
	Send(host netip.Addr, pkt []byte) error
	// HasHost reports whether there is a bundle to the host.
	HasHost(vip netip.Addr) bool
	// Gateway is the host to send what no route covers to.
	Gateway() (netip.Addr, bool)
}

// Config configures a Router.
type Config struct {
	// Device is the node's TUN (or a FakeTUN).
	Device Device
	// Prefix is the node's virtual address with the virtual network's length.
	Prefix netip.Prefix
	// Relay makes this a router node: packets for other hosts are forwarded.
	Relay bool
	// Routes are static routes beyond the hosts the engine knows.
	Routes []Route
	// Exit makes a router node the way out: packets from hosts for
	// addresses outside the virtual network and its routes go to the TUN,
	// for the kernel to forward (see Exit in exitnat.go).
	Exit bool
	// Logger receives operator events; nil means none.
	Logger *zap.Logger
}

// Router moves packets between the TUN and the bundles.
type Router struct {
	dev     Device
	prefix  netip.Prefix
	relay   bool
	exit    bool
	routes  atomic.Pointer[[]Route] // longest prefix first; SetRoutes replaces it
	bundles Bundles
	log     *zap.Logger
	stats   counters

	lastICMP atomic.Int64 // unix ns of the last ICMP error sent: rate limit
	pathMTU  atomic.Int64 // see SetPathMTU
	wg       sync.WaitGroup
	fatal    chan error // receives why the TUN reader stopped for good, at most once
}

// counters are what the router tallies.
type counters struct {
	tunRead, tunWritten, tunWriteErrors atomic.Uint64
	sent, forwarded, noRoute            atomic.Uint64
	ttlExpired, notIPv4, icmpSent       atomic.Uint64
	sendFailed, truncated               atomic.Uint64
	spoofed, transit, badHost           atomic.Uint64 // trust.go's refusals
	exited                              atomic.Uint64 // to the TUN for the exit
	tooBig                              atomic.Uint64 // larger than the path MTU with DF: answered with ICMP
}

// New returns a router over cfg.Device and b; Start begins reading the TUN.
func New(cfg Config, b Bundles) *Router {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	r := &Router{dev: cfg.Device, prefix: cfg.Prefix, relay: cfg.Relay, exit: cfg.Exit,
		bundles: b, log: log, fatal: make(chan error, 1)}
	r.SetRoutes(cfg.Routes)
	return r
}

// Fatal yields the error that stopped the router for good (the TUN was
// deleted under it); the daemon should exit then.
func (r *Router) Fatal() <-chan error { return r.fatal }

// Start starts the TUN reader. It stops when the device is closed.
func (r *Router) Start() {
	r.wg.Add(1)
	go r.readLoop()
}

// Wait returns after the TUN reader stopped (the device was closed).
func (r *Router) Wait() { r.wg.Wait() }

// readLoop reads one whole packet per TUN read and sends it to its next hop.
func (r *Router) readLoop() {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := r.dev.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, ErrTUNDeleted) {
				r.fatal <- err
				return
			}
			if errors.Is(err, ErrPacketTruncated) {
				r.stats.truncated.Add(1)
				continue
			}
			r.log.Warn("TUN read failed", zap.Error(err))
			time.Sleep(10 * time.Millisecond) // a persistent error must not spin
			continue
		}
		r.stats.tunRead.Add(1)
		r.route(buf[:n], netip.Addr{})
	}
}

// Deliver takes the first copy of a data packet from host from (the bundle
// engine's callback). A packet whose source from may not speak for is
// dropped (see sourceAllowed); packets for this node go to the TUN; on a
// router node, packets for other hosts go on; a plain host drops them, so
// it never becomes a relay into its own kernel.
func (r *Router) Deliver(from netip.Addr, pkt []byte) {
	h, ok := ParseIPv4(pkt)
	if !ok {
		r.stats.notIPv4.Add(1)
		return
	}
	if !r.sourceAllowed(from, h.Src) {
		r.stats.spoofed.Add(1)
		return
	}
	if h.Dst == r.prefix.Addr() || r.isLocalBroadcast(h.Dst) {
		r.writeTUN(pkt)
		return
	}
	if !r.relay {
		r.stats.transit.Add(1)
		return
	}
	r.forward(pkt, h, from)
}

func (r *Router) isLocalBroadcast(a netip.Addr) bool {
	if a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	return a == lastAddr(r.prefix)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// writeTUN hands a packet to the kernel. The kernel takes each write as one
// whole packet, so link readers write concurrently without a lock or an
// extra goroutine hop on the latency path.
func (r *Router) writeTUN(pkt []byte) {
	if _, err := r.dev.Write(pkt); err != nil {
		r.stats.tunWriteErrors.Add(1)
		return
	}
	r.stats.tunWritten.Add(1)
}

// forward relays a packet from host from to another host (router node).
func (r *Router) forward(pkt []byte, h IPv4Info, from netip.Addr) {
	if r.leaves(h.Dst) {
		r.stats.exited.Add(1)
		r.writeTUN(pkt) // the kernel forwards it (and counts down its TTL)
		return
	}
	if !DecrementTTL(pkt) {
		r.stats.ttlExpired.Add(1)
		r.icmpError(pkt, from, func(buf []byte) (int, error) { return ICMPTimeExceeded(buf, pkt, r.prefix.Addr()) })
		return
	}
	r.stats.forwarded.Add(1)
	r.route(pkt, from)
}

// route sends pkt to its next hop; from is the host it came from (invalid
// for packets read from the TUN), which never gets it back.
func (r *Router) route(pkt []byte, from netip.Addr) {
	h, ok := ParseIPv4(pkt)
	if !ok {
		r.stats.notIPv4.Add(1)
		return
	}
	pkt = pkt[:h.TotalLen] // bytes past the stated length never go on the wire
	nh, ok := r.nextHop(h.Dst)
	if !ok || nh == from {
		r.stats.noRoute.Add(1)
		if from.IsValid() {
			r.icmpError(pkt, from, func(buf []byte) (int, error) {
				return ICMPUnreachable(buf, pkt, r.prefix.Addr(), ICMPCodeHostUnreachable)
			})
		}
		return
	}
	if r.tooBig(pkt, from) {
		return
	}
	if err := r.bundles.Send(nh, pkt); err != nil {
		r.stats.sendFailed.Add(1)
		return
	}
	r.stats.sent.Add(1)
}

// icmpMinGap rate-limits ICMP errors so a flood of undeliverable packets
// cannot be amplified.
const icmpMinGap = 10 * time.Millisecond

// icmpError sends an ICMP error built by build back to host to.
func (r *Router) icmpError(orig []byte, to netip.Addr, build func([]byte) (int, error)) {
	now := time.Now().UnixNano()
	last := r.lastICMP.Load()
	if now-last < int64(icmpMinGap) || !r.lastICMP.CompareAndSwap(last, now) {
		return
	}
	var buf [ICMPErrorMaxLen]byte
	n, err := build(buf[:])
	if err != nil {
		return
	}
	if r.bundles.Send(to, buf[:n]) == nil {
		r.stats.icmpSent.Add(1)
	}
}
