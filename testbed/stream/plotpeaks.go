package stream

import (
	"cmp"
	"fmt"
	"slices"
)

// maxPeakLabels bounds the clipped peaks labelled per system, largest first.
const maxPeakLabels = 4

// peak is a run of buckets whose latency went above the axis.
type peak struct {
	fromMS, toMS, maxMS float64
}

// clippedPeaks returns the runs of r's buckets whose maximum latency is above
// the top of the axis; runs less than two buckets apart are merged.
func (p *plotLayout) clippedPeaks(r Result) []peak {
	var out []peak
	for _, b := range r.Series.Buckets {
		if b.MaxMS <= p.yMaxMS {
			continue
		}
		end := b.TMS + r.Series.BucketMS
		if n := len(out); n > 0 && b.TMS <= out[n-1].toMS+2*r.Series.BucketMS {
			out[n-1].toMS, out[n-1].maxMS = end, max(out[n-1].maxMS, b.MaxMS)
			continue
		}
		out = append(out, peak{fromMS: b.TMS, toMS: end, maxMS: b.MaxMS})
	}
	return out
}

// peakLabels writes the true height of the largest clipped peaks at the top
// of the chart, so clipping the axis hides no event.
func (p *plotLayout) peakLabels(s *svgBuilder) {
	if !p.clipped {
		return
	}
	s.text(marginLeft+6, p.top+12, `font-size="10" fill="#777"`,
		fmt.Sprintf("axis cut at %g ms: higher peaks labelled", p.yMaxMS))
	for i, r := range p.results {
		peaks := p.clippedPeaks(r)
		slices.SortFunc(peaks, func(a, b peak) int { return cmp.Compare(b.maxMS, a.maxMS) })
		for _, pk := range peaks[:min(len(peaks), maxPeakLabels)] {
			s.text(p.x((pk.fromMS+pk.toMS)/2), p.top+26+12*float64(i),
				fmt.Sprintf(`text-anchor="middle" font-size="10" font-weight="600" fill="%s" stroke="#fff" stroke-width="3" paint-order="stroke"`, color(i)),
				fmt.Sprintf("↑ %.0f ms", pk.maxMS))
		}
	}
}
