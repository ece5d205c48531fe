package aggregator

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// connState is one end's knowledge of a connection, carried in every packet
// it sends (the seed's handshake). On receipt of the other end's state s the
// state becomes min(2, s+1); silence for the dead interval drops it to 0.
// Beyond the seed, state 2 also needs proof: a reply to one of our own
// probes (proven), since a stranger can write any state into a header.
//
//	        recv s=0             recv s≥1, proven
//	0 ───────────────▶ 1 ─────────────────────────▶ 2
//	│ recv s≥1, proven                              │ recv s=0: back to 1
//	└──────────────────────────────────────────────▶│
//	▲ silent for the dead interval (from 1 or 2): 0, proof forgotten
type connState uint8

const (
	// stateSend: I know I can send.
	stateSend connState = 0
	// stateRecv: I know I can receive: the other end can send.
	stateRecv connState = 1
	// stateBoth: I know the other end receives me: both directions work.
	stateBoth connState = 2
)

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

// nextState is the handshake's one rule.
func nextState(peer uint8) connState {
	if peer >= uint8(stateBoth) {
		return stateBoth
	}
	return connState(peer + 1)
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

	state  atomic.Uint32 // a connState
	lastRx atomic.Int64  // engine clock, ns; 0 = never
	proven atomic.Bool   // the far end answered our probe since the path was last dead

	txPackets, txBytes   atomic.Uint64
	rxPackets, rxBytes   atomic.Uint64
	firstWins            atomic.Uint64
	queueDrops, sendErrs atomic.Uint64

	probes probeStats
}

func (c *conn) getState() connState { return connState(c.state.Load()) }

// onReceive applies the handshake rule to a packet from the other end and
// reports whether the connection just came up (reached state 2).
func (c *conn) onReceive(peerState uint8, now int64, n int) (cameUp bool) {
	c.lastRx.Store(now)
	c.rxPackets.Add(1)
	c.rxBytes.Add(uint64(n))
	ns := nextState(peerState)
	if ns == stateBoth && !c.proven.Load() {
		ns = stateRecv
	}
	next := uint32(ns)
	old := c.state.Swap(next)
	return old != uint32(stateBoth) && next == uint32(stateBoth)
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
