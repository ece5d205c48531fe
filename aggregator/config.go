package aggregator

import (
	"errors"
	"net/netip"
	"time"

	"go.uber.org/zap"
)

// Config configures an Engine. Zero durations and limits take the defaults.
type Config struct {
	// VIP is this node's virtual address, sent as Host in every packet.
	VIP netip.Addr
	// Peers are underlay addresses of nodes to reach. The hosts met through
	// them are trusted without --router and serve as the default gateway.
	Peers []netip.AddrPort
	// Router accepts hosts that were not reached through Peers.
	Router bool
	// ProbeInterval is how often each connection is probed (default 100 ms).
	ProbeInterval time.Duration
	// DeadInterval is how long a connection may stay silent before it falls
	// back to state 0 (default 3 × ProbeInterval).
	DeadInterval time.Duration
	// HostTimeout is how long a host or remote NIC may stay silent before it
	// is forgotten with its connections (default 10 s).
	HostTimeout time.Duration
	// MaxHosts bounds the host table (default 256); when full, the host
	// silent the longest is evicted if it is silent past DeadInterval.
	MaxHosts int
	// MaxRemotesPerHost bounds the NICs learned per host (default 8).
	MaxRemotesPerHost int
	// QueueLen bounds each link's transmit queue in packets (default 1024).
	QueueLen int
	// Deliver receives the first copy of every data packet: the inner IPv4
	// packet and the virtual address of the host that sent it. It is called
	// from link reader goroutines, concurrently, and must not keep pkt.
	Deliver func(from netip.Addr, pkt []byte)
	// AcceptHost, if set, vets the virtual address a new host claims before
	// the engine learns it (the router refuses addresses that are no host of
	// the virtual network, and counts them). It must be fast and lock-free.
	AcceptHost func(vip netip.Addr) bool
	// Keyed, when set, makes this a keyed node: wire v2 only (keyed.go).
	Keyed *Keyed
	// Logger receives operator events; nil means no logging.
	Logger *zap.Logger
	// Policy says which packets are copied where (policy.go).
	Policy Policy
}

func (c *Config) setDefaults() error {
	if !c.VIP.Is4() {
		return errors.New("aggregator: virtual address must be IPv4")
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 100 * time.Millisecond
	}
	if c.DeadInterval <= 0 {
		c.DeadInterval = 3 * c.ProbeInterval
	}
	if c.HostTimeout <= 0 {
		c.HostTimeout = 10 * time.Second
	}
	if c.MaxHosts <= 0 {
		c.MaxHosts = 256
	}
	if c.MaxRemotesPerHost <= 0 {
		c.MaxRemotesPerHost = 8
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 1024
	}
	if c.Deliver == nil {
		c.Deliver = func(netip.Addr, []byte) {}
	}
	if c.AcceptHost == nil {
		c.AcceptHost = func(netip.Addr) bool { return true }
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	c.Policy.setDefaults()
	return nil
}
