package stream

import "math"

// nearestRank returns the p-th percentile of sorted (ascending, not empty):
// the smallest sample with at least p % of the samples at or below it.
func nearestRank(sorted []int64, p float64) int64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// jitter is the RFC 3550 §6.4.1 interarrival jitter estimator: for
// consecutive arrivals i−1, i with transit times (receive − send) T, it moves
// J by (|T(i) − T(i−1)| − J)/16. Kept in ns.
type jitter struct {
	j           float64
	lastTransit int64
	started     bool
}

func (e *jitter) add(transit int64) {
	if e.started {
		d := math.Abs(float64(transit - e.lastTransit))
		e.j += (d - e.j) / 16
	}
	e.lastTransit, e.started = transit, true
}

// ms converts ns to milliseconds.
func ms(ns int64) float64 { return float64(ns) / 1e6 }

// roundUS rounds milliseconds to whole microseconds, keeping JSON short.
func roundUS(v float64) float64 { return math.Round(v*1e3) / 1e3 }
