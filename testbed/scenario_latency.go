package testbed

import (
	"slices"
	"strings"

	"github.com/polylink/polylink/testbed/stream"
)

// addedP50 is what polylink adds to the faster link's one-way latency
// while that link is up: the median, over the series' slices of the
// stream outside every cut and recovery, of polylink's p50 less the
// faster link's in the same slice (the same packets' send times). Over
// the whole stream, the packets a cut left to the slower link lift
// polylink's median by a share of the faster link's jitter, which is no
// cost of polylink's. Without slices (a run without series) it is the
// difference of the whole streams' medians, with n 0.
func (r *Run) addedP50(p, fast *stream.Result) (added float64, n int) {
	var out []stream.Window
	for _, w := range r.Scenario.Cuts() {
		if strings.HasSuffix(w.Label, " cut") || strings.HasSuffix(w.Label, " back") {
			out = append(out, w)
		}
	}
	width := p.Series.BucketMS
	fastAt := map[float64]float64{}
	for _, b := range fast.Series.Buckets {
		fastAt[b.TMS] = b.P50MS
	}
	var diffs []float64
	for _, b := range p.Series.Buckets {
		f, ok := fastAt[b.TMS]
		if !ok || f == 0 || b.P50MS == 0 || slices.ContainsFunc(out, func(w stream.Window) bool {
			from, to := float64(w.From.Milliseconds()), float64(w.To.Milliseconds())
			return b.TMS < to && b.TMS+width > from
		}) {
			continue
		}
		diffs = append(diffs, b.P50MS-f)
	}
	if len(diffs) == 0 {
		return p.Latency.P50 - fast.Latency.P50, 0 // no series: the whole stream's
	}
	slices.Sort(diffs)
	return diffs[len(diffs)/2], len(diffs)
}
