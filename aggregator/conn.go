package aggregator

import (
	"net/netip"
	"sync"
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
	addr  netip.Addr
}

// remoteNIC is one NIC of a remote host, learned from its packets.
type remoteNIC struct {
	index  uint32
	addr   netip.Addr
	lastRx atomic.Int64
	proven atomic.Bool // a connection to it got a reply to our probe
}

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

// probeRingLen is how many recent probes loss is measured over.
const probeRingLen = 64

// probeStats measures one connection with its probes: RTT (smoothed and
// last), RTT jitter (RFC 3550's estimator applied to RTT samples) and loss
// over the last probeRingLen probes.
type probeStats struct {
	mu       sync.Mutex
	seq      uint32                  // guarded by mu: last probe sequence sent
	ring     [probeRingLen]probeSlot // guarded by mu
	srtt     int64                   // guarded by mu: ns, 0 = no sample
	lastRTT  int64                   // guarded by mu
	jitter   int64                   // guarded by mu: ns
	sent     uint64                  // guarded by mu
	lost     uint64                  // guarded by mu: unanswered probes pushed out of the ring
	answered uint64                  // guarded by mu
}

type probeSlot struct {
	seq     uint32
	sentAt  int64
	replied bool
}

// last returns how many probes were sent and when the last one was.
func (p *probeStats) last() (sent uint64, at int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.ring[p.seq%probeRingLen].sentAt
}

// next records a probe about to be sent and returns its sequence number.
func (p *probeStats) next(now int64) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	s := &p.ring[p.seq%probeRingLen]
	if s.sentAt != 0 && !s.replied {
		p.lost++
	}
	*s = probeSlot{seq: p.seq, sentAt: now}
	p.sent++
	return p.seq
}

// reply records a probe reply and reports whether it answers a probe this
// connection sent: the echoed sequence and send time must match one in the
// ring. Only such a reply gives an RTT sample; anyone can forge the rest.
func (p *probeStats) reply(seq uint32, sentAt, now int64) (matched bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &p.ring[seq%probeRingLen]
	if s.seq != seq || s.sentAt == 0 || s.sentAt != sentAt || s.replied {
		return false
	}
	s.replied = true
	p.answered++
	rtt := now - sentAt
	if p.srtt == 0 {
		p.srtt = rtt
	} else {
		p.srtt += (rtt - p.srtt) / 8
		d := rtt - p.lastRTT
		if d < 0 {
			d = -d
		}
		p.jitter += (d - p.jitter) / 16
	}
	p.lastRTT = rtt
	return true
}

// probeView is a consistent copy of a connection's probe statistics.
type probeView struct {
	srtt, jitter int64
	loss         float64 // over matured probes in the ring
	sent, lost   uint64
}

// view computes loss over probes older than maturity (so probes still in
// flight do not count as lost).
func (p *probeStats) view(now, maturity int64) probeView {
	p.mu.Lock()
	defer p.mu.Unlock()
	var matured, unanswered int
	for _, s := range p.ring {
		if s.sentAt == 0 || now-s.sentAt < maturity {
			continue
		}
		matured++
		if !s.replied {
			unanswered++
		}
	}
	v := probeView{srtt: p.srtt, jitter: p.jitter, sent: p.sent, lost: p.lost}
	if matured > 0 {
		v.loss = float64(unanswered) / float64(matured)
	}
	return v
}
