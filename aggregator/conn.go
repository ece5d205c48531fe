package aggregator

import (
	"net/netip"
	"sync/atomic"
)

// connState is one end's knowledge of a connection, carried in every packet
// it sends (the seed's handshake):
//
//	0  I know I can send: nothing heard for the dead interval.
//	1  I know I can receive: the other end's packets reach me.
//	2  I know the other end receives me: it answered one of my probes
//	   (echoing its sequence and send time) within the dead interval.
//
// The seed derives state 2 from the state the other end writes in its
// headers (min(2, s+1)); here it is derived from our own probe's answer,
// because a stranger can write any state into a header but cannot answer a
// probe sent to an address it does not receive. The state is computed from
// two timestamps, so no transition can race another.
type connState uint8

const (
	// stateSend: I know I can send.
	stateSend connState = 0
	// stateRecv: I know I can receive: the other end can send.
	stateRecv connState = 1
	// stateBoth: I know the other end receives me: both directions work.
	stateBoth connState = 2
)

// String names the state as status shows it.
func (s connState) String() string {
	switch s {
	case stateSend:
		return "down"
	case stateRecv:
		return "half"
	case stateBoth:
		return "up"
	}
	return "invalid"
}

// remoteKey names a remote host's NIC: its ifindex and underlay address.
type remoteKey struct {
	index uint32
	addr  netip.AddrPort
}

// remoteNIC is one NIC of a remote host, learned from its packets.
type remoteNIC struct {
	index  uint32
	addr   netip.AddrPort // the endpoint its packets come from (port 0: raw IP-in-IP)
	lastRx atomic.Int64
	proven atomic.Bool // a connection to it got a reply to our probe
	// meteredUntil: the host said this NIC is metered, valid until then
	// (engine clock); see onNICInfo.
	meteredUntil atomic.Int64
}

// kind is the kind of link that reaches the endpoint.
func (r *remoteNIC) kind() Kind { return KindOf(r.addr) }

// conn is one path: a local link × a remote NIC. Its state and counters are
// atomics written by the link's reader and writer goroutines and the timer;
// its probe statistics have their own mutex.
type conn struct {
	host   *host
	link   *localLink
	remote *remoteNIC

	lastRx   atomic.Int64  // engine clock, ns, of the last packet; 0 = never
	provenAt atomic.Int64  // engine clock of the last answer to our own probe; 0 = never
	reported atomic.Uint32 // the connState last logged (path up / path down)
	// challengedAt rate-limits challenges: probes sent at once because the
	// other end used a path we have not proven or showed a new epoch.
	challengedAt atomic.Int64

	txPackets, txBytes   atomic.Uint64
	rxPackets, rxBytes   atomic.Uint64
	firstWins            atomic.Uint64
	queueDrops, sendErrs atomic.Uint64

	probes probeStats
	pol    connPolicy
}

// state is the connection's state at now, for a dead interval of dead ns.
func (c *conn) state(now, dead int64) connState {
	switch {
	case within(c.provenAt.Load(), now, dead):
		return stateBoth
	case within(c.lastRx.Load(), now, dead):
		return stateRecv
	}
	return stateSend
}

// proven reports whether the other end answered our probe within dead.
func (c *conn) proven(now, dead int64) bool { return within(c.provenAt.Load(), now, dead) }

// within reports whether timestamp t (0 = never) is at most d before now.
func within(t, now, d int64) bool { return t != 0 && now-t <= d }

// onReceive counts a packet from the other end.
func (c *conn) onReceive(now int64, n int) {
	c.lastRx.Store(now)
	c.rxPackets.Add(1)
	c.rxBytes.Add(uint64(n))
}
