package linkemu

import (
	"math/rand/v2"
	"time"
)

// verdict is the shaper's decision about one frame.
type verdict uint8

const (
	pass          verdict = iota // frame goes on, at its due time
	dropOutage                   // link down (schedule or SetDown)
	dropLoss                     // Bernoulli loss
	dropGE                       // Gilbert–Elliott loss
	dropRate                     // rate limiter's queue delay over QueueLimit
	dropQueueFull                // emulator's frame or byte bound reached
)

// shaper decides, per frame, whether it is lost and when it is due. It does
// no I/O and reads no clock: times are nanoseconds on the caller's clock.
// Not safe for concurrent use; a direction guards it with its mutex.
type shaper struct {
	imp   Impairment
	epoch int64 // when imp took effect; outages are relative to it
	rng   *rand.Rand
	down  bool // forced down by SetDown

	geBad    bool  // Gilbert–Elliott state
	linkFree int64 // rate limiter: when the link finishes the last frame
	lastDue  int64 // latest due time handed out, for no-reordering
}

func newShaper(imp Impairment, now int64, seed1, seed2 uint64) *shaper {
	return &shaper{imp: imp, epoch: now, rng: rand.New(rand.NewPCG(seed1, seed2))}
}

// set replaces the impairment; outages restart from now. Burst and queue
// state carry over, as a real link's would.
func (s *shaper) set(imp Impairment, now int64) {
	s.imp, s.epoch = imp, now
}

// isDown reports whether the link carries nothing at now.
func (s *shaper) isDown(now int64) bool {
	if s.down {
		return true
	}
	t := time.Duration(now - s.epoch)
	for _, o := range s.imp.Outages {
		if o.covers(t) {
			return true
		}
	}
	return false
}

// admit decides the fate of a frame of size bytes arriving at now.
func (s *shaper) admit(now int64, size int) (due int64, v verdict) {
	imp := &s.imp
	if s.isDown(now) {
		return 0, dropOutage
	}
	if imp.Loss > 0 && s.rng.Float64() < imp.Loss {
		return 0, dropLoss
	}
	if g := imp.GE; g != nil {
		if s.geBad {
			s.geBad = s.rng.Float64() >= g.PBadGood
		} else {
			s.geBad = s.rng.Float64() < g.PGoodBad
		}
		p := g.LossGood
		if s.geBad {
			p = g.LossBad
		}
		if p > 0 && s.rng.Float64() < p {
			return 0, dropGE
		}
	}
	t := now
	if imp.RateBps > 0 {
		limit := imp.QueueLimit
		if limit == 0 {
			limit = DefaultQueueLimit
		}
		start := max(now, s.linkFree)
		if time.Duration(start-now) > limit {
			return 0, dropRate
		}
		s.linkFree = start + int64(size)*8*int64(time.Second)/imp.RateBps
		t = s.linkFree // the receiver has the frame once its last bit is through
	}
	delay := int64(imp.Delay)
	if j := int64(imp.Jitter); j > 0 {
		delay = max(0, delay+s.rng.Int64N(2*j+1)-j)
	}
	due = t + delay
	if !imp.Reorder {
		due = max(due, s.lastDue)
	}
	s.lastDue = max(s.lastDue, due)
	return due, pass
}
