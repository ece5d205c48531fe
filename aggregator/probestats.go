package aggregator

import "sync"

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
	last         int64   // the latest RTT sample
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
	v := probeView{srtt: p.srtt, jitter: p.jitter, last: p.lastRTT, sent: p.sent, lost: p.lost}
	if matured > 0 {
		v.loss = float64(unanswered) / float64(matured)
	}
	return v
}
