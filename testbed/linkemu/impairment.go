package linkemu

import (
	"errors"
	"fmt"
	"time"
)

// Impairment is what one direction of a link does to the frames crossing it.
// The zero value is a perfect link: frames are forwarded at once.
//
// Order of decisions per frame: outage, Bernoulli loss, Gilbert–Elliott loss,
// rate-limit queue, then delay and jitter. A lost frame takes no capacity.
//
// In JSON, durations are Go duration strings ("20ms", "1.5s"); plain numbers
// are read as nanoseconds.
type Impairment struct {
	// Delay is added to every frame after the rate limiter.
	Delay time.Duration `json:"delay"`
	// Jitter adds a uniform random offset in [−Jitter, +Jitter] to Delay (the
	// sum is never negative). Unless Reorder is set a frame never leaves
	// before the frame ahead of it: it waits for it, as on a single wire.
	Jitter time.Duration `json:"jitter"`
	// Reorder lets a frame with a shorter jittered delay overtake earlier ones.
	Reorder bool `json:"reorder,omitempty"`
	// Loss is the probability (0..1) that a frame is lost, independently.
	Loss float64 `json:"loss"`
	// GE, when set, adds bursty Gilbert–Elliott loss on top of Loss.
	GE *GilbertElliott `json:"ge,omitempty"`
	// RateBps limits the link to this many bits per second of Ethernet frame
	// (header and payload, no preamble or FCS); 0 means unlimited.
	RateBps int64 `json:"rate_bps,omitempty"`
	// QueueLimit is the most queueing delay the rate limiter accepts: a frame
	// that would wait longer is tail-dropped. 0 means DefaultQueueLimit.
	QueueLimit time.Duration `json:"queue_limit,omitempty"`
	// Outages are intervals, relative to the moment the impairment took
	// effect, during which the link carries nothing, queued frames included.
	Outages []Outage `json:"outages,omitempty"`
}

// DefaultQueueLimit is the rate limiter's queueing delay limit when
// Impairment.QueueLimit is zero.
const DefaultQueueLimit = 100 * time.Millisecond

// GilbertElliott is a two-state burst loss model. Before each frame the state
// may change (Good→Bad with probability PGoodBad, Bad→Good with PBadGood);
// then the frame is lost with the loss probability of the current state.
// The classic Gilbert model is LossGood 0, LossBad 1: its mean burst length
// is 1/PBadGood frames.
type GilbertElliott struct {
	// PGoodBad is the probability of moving from Good to Bad before a frame.
	PGoodBad float64 `json:"p_good_bad"`
	// PBadGood is the probability of moving from Bad to Good before a frame.
	PBadGood float64 `json:"p_bad_good"`
	// LossGood is the loss probability in the Good state.
	LossGood float64 `json:"loss_good"`
	// LossBad is the loss probability in the Bad state.
	LossBad float64 `json:"loss_bad"`
}

// MeanLoss returns the long-run fraction of frames the model loses.
func (g GilbertElliott) MeanLoss() float64 {
	if g.PGoodBad+g.PBadGood == 0 {
		return g.LossGood
	}
	bad := g.PGoodBad / (g.PGoodBad + g.PBadGood)
	return bad*g.LossBad + (1-bad)*g.LossGood
}

// Outage takes the link down from From to To, measured from the moment the
// impairment took effect. With Every > 0 it repeats: down in
// [From+k·Every, To+k·Every) for every k ≥ 0.
type Outage struct {
	// From is when the link goes down.
	From time.Duration `json:"from"`
	// To is when the link comes back.
	To time.Duration `json:"to"`
	// Every, if positive, is the period after which the outage repeats.
	Every time.Duration `json:"every,omitempty"`
}

// covers reports whether the outage holds at t since the impairment started.
func (o Outage) covers(t time.Duration) bool {
	if t < o.From {
		return false
	}
	if o.Every > 0 {
		t = o.From + (t-o.From)%o.Every
	}
	return t < o.To
}

// Validate reports the first field that is out of range.
func (imp Impairment) Validate() error {
	var errs []error
	if imp.Delay < 0 || imp.Jitter < 0 || imp.QueueLimit < 0 {
		errs = append(errs, errors.New("delay, jitter and queue_limit must not be negative"))
	}
	if !isProb(imp.Loss) {
		errs = append(errs, fmt.Errorf("loss %v is not a probability in [0,1]", imp.Loss))
	}
	if g := imp.GE; g != nil {
		for _, p := range []float64{g.PGoodBad, g.PBadGood, g.LossGood, g.LossBad} {
			if !isProb(p) {
				errs = append(errs, fmt.Errorf("ge: %v is not a probability in [0,1]", p))
				break
			}
		}
	}
	if imp.RateBps < 0 {
		errs = append(errs, fmt.Errorf("rate_bps %d is negative", imp.RateBps))
	}
	for i, o := range imp.Outages {
		if o.From < 0 || o.To <= o.From {
			errs = append(errs, fmt.Errorf("outage %d: want 0 ≤ from < to, have %v..%v", i, o.From, o.To))
		}
		if o.Every != 0 && o.Every < o.To-o.From {
			errs = append(errs, fmt.Errorf("outage %d: every %v is shorter than the outage", i, o.Every))
		}
	}
	return errors.Join(errs...)
}

func isProb(p float64) bool { return p >= 0 && p <= 1 }
