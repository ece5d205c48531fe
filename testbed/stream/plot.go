package stream

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// palette is the Okabe–Ito set: distinct for colour-blind readers too.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

// Plot geometry in SVG user units (pixels).
const (
	plotWidth    = 960.0
	marginLeft   = 76.0
	marginRight  = 24.0
	titleHeight  = 30.0
	legendRow    = 20.0
	plotHeight   = 300.0
	stripGap     = 18.0
	stripRow     = 14.0
	axisBelow    = 46.0
	charWidth    = 6.6 // of the 12 px font, for laying out the legend
	fontFamily   = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
	clipFactor   = 3.0  // a peak this far above the 99th percentile of peaks is clipped
	clipHeadroom = 1.25 // room above the 99th percentile when clipping
)

// WriteSVG draws results as one SVG chart: one-way latency over time, one
// colour per system (the median of each time bucket as a line, its min–max
// range as a light band), the playout deadline as a dashed line, a strip
// per system below the chart marking the buckets where packets were lost,
// and the windows of the first result (outages) shaded and labelled. The
// legend repeats each system's loss and median latency. A few isolated
// peaks far above the rest do not flatten the chart: the axis is cut above
// the typical peaks and the higher ones are labelled with their height.
func WriteSVG(w io.Writer, title string, results []Result) error {
	p := newPlotLayout(title, results)
	var s svgBuilder
	p.header(&s)
	p.windows(&s)
	p.grid(&s)
	p.bands(&s)
	p.deadline(&s)
	p.medians(&s)
	p.peakLabels(&s)
	p.lossStrips(&s)
	p.axes(&s)
	s.raw("</svg>\n")
	if _, err := io.WriteString(w, s.b.String()); err != nil {
		return fmt.Errorf("write SVG plot: %w", err)
	}
	return nil
}

// plotLayout holds the scales and positions of one chart.
type plotLayout struct {
	title   string
	results []Result
	legend  []legendItem
	top     float64 // y of the plot area's top edge
	width   float64 // of the plot area
	height  float64 // of the whole picture
	tMaxMS  float64 // right end of the time axis
	yMaxMS  float64 // top of the latency axis
	clipped bool    // some latency peaks are above yMaxMS
}

type legendItem struct {
	x, y  float64
	color string
	label string
}

func newPlotLayout(title string, results []Result) *plotLayout {
	p := &plotLayout{title: title, results: results, width: plotWidth - marginLeft - marginRight}
	p.layoutLegend()
	p.height = p.top + plotHeight + stripGap + stripRow*float64(len(results)) + axisBelow

	p.tMaxMS = 1000
	var peaks []float64
	for _, r := range results {
		p.tMaxMS = max(p.tMaxMS, ms(int64(r.Profile.Duration)))
		if n := len(r.Series.Buckets); n > 0 {
			p.tMaxMS = max(p.tMaxMS, r.Series.Buckets[n-1].TMS+r.Series.BucketMS)
		}
		for _, b := range r.Series.Buckets {
			if b.MaxMS > 0 {
				peaks = append(peaks, b.MaxMS)
			}
		}
	}
	p.yMaxMS = 1
	if len(peaks) > 0 {
		slices.Sort(peaks)
		top, typical := peaks[len(peaks)-1], peaks[int(math.Ceil(0.99*float64(len(peaks))))-1]
		if top > clipFactor*typical {
			p.yMaxMS, p.clipped = niceCeil(typical*clipHeadroom), true
		} else {
			p.yMaxMS = niceCeil(top)
		}
	}
	return p
}

// layoutLegend places one entry per system after the title, wrapping rows.
func (p *plotLayout) layoutLegend() {
	x, y := marginLeft, titleHeight+legendRow/2
	if p.title == "" {
		y = legendRow/2 + 6
	}
	for i, r := range p.results {
		label := r.Name + "  lost " + percent(r.LossRatio)
		if r.Received > 0 {
			label += ", p50 " + strconv.FormatFloat(r.Latency.P50, 'f', 2, 64) + " ms"
		}
		w := 26 + charWidth*float64(len(label)) + 18
		if x+w > plotWidth-marginRight && x > marginLeft {
			x, y = marginLeft, y+legendRow
		}
		p.legend = append(p.legend, legendItem{x: x, y: y, color: color(i), label: label})
		x += w
	}
	p.top = y + legendRow
}

func color(i int) string { return palette[i%len(palette)] }

// x maps a time in ms to a horizontal position.
func (p *plotLayout) x(tMS float64) float64 {
	return marginLeft + min(max(tMS/p.tMaxMS, 0), 1)*p.width
}

// y maps a latency in ms to a vertical position, clamped to the plot area.
func (p *plotLayout) y(latencyMS float64) float64 {
	return p.top + plotHeight - min(max(latencyMS/p.yMaxMS, 0), 1)*plotHeight
}

func (p *plotLayout) stripTop() float64 { return p.top + plotHeight + stripGap }

func (p *plotLayout) stripBottom() float64 {
	return p.stripTop() + stripRow*float64(len(p.results))
}

func (p *plotLayout) header(s *svgBuilder) {
	s.raw(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" `+
		`font-family="%s" font-size="12" fill="#222">`+"\n",
		num(plotWidth), num(p.height), num(plotWidth), num(p.height), escapeAttr(fontFamily))
	s.rect(0, 0, plotWidth, p.height, `fill="#ffffff"`)
	s.raw(`<defs><clipPath id="plot-area"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath></defs>`+"\n",
		num(marginLeft), num(p.top), num(p.width), num(plotHeight))
	if p.title != "" {
		s.text(marginLeft, 20, `font-size="15" font-weight="600"`, p.title)
	}
	for _, it := range p.legend {
		s.line(it.x, it.y, it.x+20, it.y, fmt.Sprintf(`stroke="%s" stroke-width="3" stroke-linecap="round"`, it.color))
		s.text(it.x+26, it.y+4, "", it.label)
	}
}

// windows shades each window of the first result over the chart and strips.
func (p *plotLayout) windows(s *svgBuilder) {
	if len(p.results) == 0 {
		return
	}
	for _, w := range p.results[0].Windows {
		x1, x2 := p.x(w.FromMS), p.x(w.ToMS)
		if x2 <= x1 {
			continue
		}
		s.raw(`<g class="window">`)
		s.rect(x1, p.top, x2-x1, p.stripBottom()-p.top, `fill="#000000" fill-opacity="0.07"`)
		s.text((x1+x2)/2, p.top+14, `text-anchor="middle" font-size="11" fill="#555"`, w.Label)
		s.raw("</g>\n")
	}
}

func (p *plotLayout) grid(s *svgBuilder) {
	const gridStyle = `stroke="#e6e6e6" stroke-width="1"`
	for _, v := range ticks(p.yMaxMS, niceStep(p.yMaxMS, 5))[1:] {
		s.line(marginLeft, p.y(v), marginLeft+p.width, p.y(v), gridStyle)
	}
	step, _ := p.timeTicks()
	for _, t := range ticks(p.tMaxMS, step)[1:] {
		s.line(p.x(t), p.top, p.x(t), p.stripBottom(), gridStyle)
	}
}

// timeTicks returns the time axis step in ms and whether labels are seconds.
func (p *plotLayout) timeTicks() (stepMS float64, seconds bool) {
	if p.tMaxMS >= 2000 {
		return 1000 * niceStep(p.tMaxMS/1000, 8), true
	}
	return niceStep(p.tMaxMS, 8), false
}

// runs splits a series into runs of consecutive buckets that have latency
// samples; a bucket whose packets were all lost ends a run.
func runs(buckets []Bucket) [][]Bucket {
	var out [][]Bucket
	start := -1
	for i, b := range buckets {
		has := b.Lost < b.Sent
		switch {
		case has && start < 0:
			start = i
		case !has && start >= 0:
			out = append(out, buckets[start:i])
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, buckets[start:])
	}
	return out
}

func (p *plotLayout) center(r Result, b Bucket) float64 {
	return p.x(b.TMS + r.Series.BucketMS/2)
}

// bands draws each system's min–max range per bucket as a light area.
func (p *plotLayout) bands(s *svgBuilder) {
	s.raw(`<g clip-path="url(#plot-area)">` + "\n")
	for i, r := range p.results {
		for _, run := range runs(r.Series.Buckets) {
			if len(run) < 2 {
				continue
			}
			s.raw(`<path class="band" fill="%s" fill-opacity="0.16" stroke="none" d="`, color(i))
			for j, b := range run {
				s.raw("%s%s,%s", pathCmd(j), num(p.center(r, b)), num(p.y(b.MaxMS)))
			}
			for j := len(run) - 1; j >= 0; j-- {
				s.raw("L%s,%s", num(p.center(r, run[j])), num(p.y(run[j].MinMS)))
			}
			s.raw(`Z"/>` + "\n")
		}
	}
	s.raw("</g>\n")
}

// medians draws each system's per-bucket median latency as a line, broken
// where every packet of a bucket was lost.
func (p *plotLayout) medians(s *svgBuilder) {
	for i, r := range p.results {
		s.raw(`<g class="series" data-name="%s">`, escapeAttr(r.Name))
		s.raw(`<path fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round" stroke-linecap="round" d="`,
			color(i), num(p.strokeWidth(i)))
		for _, run := range runs(r.Series.Buckets) {
			for j, b := range run {
				s.raw("%s%s,%s", pathCmd(j), num(p.center(r, b)), num(p.y(b.P50MS)))
			}
			if len(run) == 1 { // a lone bucket: a dot rather than nothing
				s.raw("h0.1")
			}
		}
		s.raw(`"/></g>` + "\n")
	}
}

// strokeWidth makes earlier series' lines wider, so that where systems have
// the same latency (polylink riding on its fastest link) the line drawn later
// does not hide the one below: it shows as a border.
func (p *plotLayout) strokeWidth(i int) float64 {
	const thinnest, widest = 1.4, 3.0
	n := len(p.results)
	if n < 2 {
		return thinnest
	}
	return thinnest + (widest-thinnest)*float64(n-1-i)/float64(n-1)
}

func pathCmd(j int) string {
	if j == 0 {
		return "M"
	}
	return "L"
}

// deadline draws the playout deadline when it falls inside the latency axis.
func (p *plotLayout) deadline(s *svgBuilder) {
	if len(p.results) == 0 {
		return
	}
	d := p.results[0].DeadlineMS
	if d <= 0 || d > p.yMaxMS {
		return
	}
	s.line(marginLeft, p.y(d), marginLeft+p.width, p.y(d), `stroke="#999" stroke-width="1" stroke-dasharray="5 4"`)
	s.text(marginLeft+p.width-4, p.y(d)-4, `text-anchor="end" font-size="11" fill="#777"`,
		fmt.Sprintf("deadline %g ms", d))
}

// lossStrips draws, per system, a row marking each bucket with lost packets;
// the darker the mark, the larger the bucket's lost share. Neighbouring
// buckets of the same shade are merged into one mark.
func (p *plotLayout) lossStrips(s *svgBuilder) {
	s.text(marginLeft+2, p.stripTop()-3, `font-size="10" fill="#777"`, "lost packets")
	for i, r := range p.results {
		y := p.stripTop() + stripRow*float64(i)
		s.rect(marginLeft, y+1, p.width, stripRow-2, `fill="#f4f4f4"`)
		s.text(marginLeft-8, y+stripRow-3, fmt.Sprintf(`text-anchor="end" font-size="11" fill="%s"`, color(i)), r.Name)
		s.raw(`<g class="losses" fill="%s">`+"\n", color(i))
		var from, to, shade float64
		open := false
		flush := func() {
			if open {
				w := max(p.x(to)-p.x(from), 1.5)
				s.rect(p.x(from), y+1, w, stripRow-2, fmt.Sprintf(`fill-opacity="%s"`, strconv.FormatFloat(shade, 'f', 2, 64)))
			}
			open = false
		}
		for _, b := range r.Series.Buckets {
			if b.Lost == 0 {
				flush()
				continue
			}
			sh := 0.35 + 0.65*math.Round(20*ratio(b.Lost, b.Sent))/20
			if open && sh == shade && b.TMS <= to+1e-9 {
				to = b.TMS + r.Series.BucketMS
				continue
			}
			flush()
			from, to, shade, open = b.TMS, b.TMS+r.Series.BucketMS, sh, true
		}
		flush()
		s.raw("</g>\n")
	}
}

func (p *plotLayout) axes(s *svgBuilder) {
	const axisStyle = `stroke="#444" stroke-width="1"`
	bottom := p.top + plotHeight
	s.line(marginLeft, p.top, marginLeft, bottom, axisStyle)
	s.line(marginLeft, bottom, marginLeft+p.width, bottom, axisStyle)
	yStep := niceStep(p.yMaxMS, 5)
	for _, v := range ticks(p.yMaxMS, yStep) {
		s.line(marginLeft-4, p.y(v), marginLeft, p.y(v), axisStyle)
		s.text(marginLeft-7, p.y(v)+4, `text-anchor="end" font-size="11" fill="#555"`, strconv.FormatFloat(v, 'f', -1, 64))
	}
	s.text(18, p.top+plotHeight/2, fmt.Sprintf(`text-anchor="middle" transform="rotate(-90 18 %s)"`, num(p.top+plotHeight/2)),
		"one-way latency (ms)")

	step, seconds := p.timeTicks()
	stripEnd := p.stripBottom()
	for _, t := range ticks(p.tMaxMS, step) {
		s.line(p.x(t), stripEnd, p.x(t), stripEnd+4, axisStyle)
		label := strconv.FormatFloat(t, 'f', -1, 64)
		if seconds {
			label = strconv.FormatFloat(t/1000, 'f', -1, 64)
		}
		s.text(p.x(t), stripEnd+17, `text-anchor="middle" font-size="11" fill="#555"`, label)
	}
	unit := "ms"
	if seconds {
		unit = "s"
	}
	s.text(marginLeft+p.width/2, stripEnd+36, `text-anchor="middle"`, "time since start ("+unit+")")
}
