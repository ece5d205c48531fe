package linkemu

import "sync/atomic"

// counters are a direction's running totals, updated without locks.
type counters struct {
	framesIn, bytesIn, delivered, bytesOut atomic.Uint64
	outage, loss, ge, rate, queueFull      atomic.Uint64
	sendErrors, readErrors, timerErrors    atomic.Uint64
}

func (c *counters) count(v verdict) {
	switch v {
	case dropOutage:
		c.outage.Add(1)
	case dropLoss:
		c.loss.Add(1)
	case dropGE:
		c.ge.Add(1)
	case dropRate:
		c.rate.Add(1)
	case dropQueueFull:
		c.queueFull.Add(1)
	}
}

// Stats is a snapshot of one direction's counters.
type Stats struct {
	FramesIn  uint64 `json:"frames_in"`
	BytesIn   uint64 `json:"bytes_in"`
	Delivered uint64 `json:"delivered"`
	BytesOut  uint64 `json:"bytes_out"`
	// Drops per reason.
	DroppedOutage    uint64 `json:"dropped_outage"`
	DroppedLoss      uint64 `json:"dropped_loss"`
	DroppedGE        uint64 `json:"dropped_ge"`
	DroppedRate      uint64 `json:"dropped_rate"`
	DroppedQueueFull uint64 `json:"dropped_queue_full"`
	// SendErrors counts frames the egress port refused.
	SendErrors uint64 `json:"send_errors"`
	// ReadErrors counts failed reads on the ingress port other than Close.
	ReadErrors uint64 `json:"read_errors"`
	// KernelDrops counts frames the ingress port's kernel queue dropped
	// before the emulator read them (packet ports only).
	KernelDrops uint64 `json:"kernel_drops"`
	// Queued is the number of frames waiting for their due time.
	Queued int `json:"queued"`
	// Lateness is how late queued frames left relative to their due time.
	Lateness Lateness `json:"lateness"`
}

// Dropped returns the frames dropped for any reason.
func (s Stats) Dropped() uint64 {
	return s.DroppedOutage + s.DroppedLoss + s.DroppedGE + s.DroppedRate + s.DroppedQueueFull
}

// Stats returns a snapshot of the direction's counters.
func (d *Direction) Stats() Stats {
	c := &d.counters
	d.mu.Lock()
	queued := d.queue.len()
	d.mu.Unlock()
	return Stats{
		FramesIn: c.framesIn.Load(), BytesIn: c.bytesIn.Load(),
		Delivered: c.delivered.Load(), BytesOut: c.bytesOut.Load(),
		DroppedOutage: c.outage.Load(), DroppedLoss: c.loss.Load(), DroppedGE: c.ge.Load(),
		DroppedRate: c.rate.Load(), DroppedQueueFull: c.queueFull.Load(),
		SendErrors: c.sendErrors.Load(), ReadErrors: c.readErrors.Load(),
		Queued:   queued,
		Lateness: d.lateness.snapshot(),
	}
}
