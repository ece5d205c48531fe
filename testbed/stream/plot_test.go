package stream

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

var plotOut = flag.String("plot-out", "", "also write the synthetic plot to this SVG file, to look at")

// syntheticResults simulates 10 s at 1,000 packet/s over link 0 (20 ms,
// cut from 3 s to 6 s), link 1 (40 ms, 1 % loss, a 300 ms queueing spike at
// 8 s) and polylink (first copy of both, +0.2 ms).
func syntheticResults() []Result {
	const n, start = 10_000, int64(5e9)
	rng := rand.New(rand.NewPCG(1, 2))
	profile := AudioProfile(1000, 160, 10*time.Second)
	sent := func(seq int) int64 { return start + int64(seq)*1e6 }
	link0 := func(seq int) (int64, bool) {
		if seq >= 3000 && seq < 6000 {
			return 0, false
		}
		return int64(20e6 + rng.NormFloat64()*1e6), true
	}
	link1 := func(seq int) (int64, bool) {
		if rng.Float64() < 0.01 {
			return 0, false
		}
		l := int64(40e6 + rng.NormFloat64()*2e6)
		if seq >= 8000 && seq < 8200 {
			l += int64(300e6 * float64(seq-8000) / 200)
		}
		return l, true
	}
	var c0, c1, cp Capture
	for seq := range n {
		l0, ok0 := link0(seq)
		l1, ok1 := link1(seq)
		if ok0 {
			c0.Arrivals = append(c0.Arrivals, Arrival{uint64(seq), sent(seq), sent(seq) + l0})
		}
		if ok1 {
			c1.Arrivals = append(c1.Arrivals, Arrival{uint64(seq), sent(seq), sent(seq) + l1})
		}
		switch {
		case ok0 && (!ok1 || l0 < l1):
			cp.Arrivals = append(cp.Arrivals, Arrival{uint64(seq), sent(seq), sent(seq) + l0 + 2e5})
		case ok1:
			cp.Arrivals = append(cp.Arrivals, Arrival{uint64(seq), sent(seq), sent(seq) + l1 + 2e5})
		}
	}
	st := SenderStats{Profile: profile, StartNS: start, Sent: n}
	opt := Options{Windows: []Window{{Label: "link 0 cut", From: 3 * time.Second, To: 6 * time.Second}}}
	return []Result{Analyze("link 0", st, c0, opt), Analyze("link 1", st, c1, opt), Analyze("polylink", st, cp, opt)}
}

func TestWriteSVGIsWellFormed(t *testing.T) {
	results := syntheticResults()
	var buf bytes.Buffer
	if err := (Report{Title: "link 0 cut for 3 s", Results: results}).WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	if *plotOut != "" {
		if err := os.WriteFile(*plotOut, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	counts := map[string]int{}
	var seriesNames []string
	dec := xml.NewDecoder(&buf)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if el, ok := tok.(xml.StartElement); ok {
			counts[el.Name.Local]++
			for _, a := range el.Attr {
				if a.Name.Local == "class" {
					counts["class "+a.Value]++
				}
				if a.Name.Local == "data-name" {
					seriesNames = append(seriesNames, a.Value)
				}
			}
		}
	}
	if counts["svg"] != 1 || counts["class series"] != 3 || counts["class window"] != 1 || counts["class losses"] != 3 {
		t.Errorf("elements = %v; want 1 svg, 3 series, 1 window, 3 loss strips", counts)
	}
	if strings.Join(seriesNames, ",") != "link 0,link 1,polylink" {
		t.Errorf("series = %v", seriesNames)
	}
	if buf.Len() > 0 {
		t.Errorf("decoder left %d bytes", buf.Len())
	}
}

func TestSyntheticResultsAreWhatTheyClaim(t *testing.T) {
	r := syntheticResults()
	// During the cut polylink loses what link 1 alone loses; overall less.
	if r[0].Windows[0].LossRatio != 1 || r[2].Windows[0].Lost != r[1].Windows[0].Lost || r[2].Lost >= r[1].Lost {
		t.Errorf("link 0 window %+v, polylink window %+v, polylink lost %d vs link 1 %d",
			r[0].Windows[0], r[2].Windows[0], r[2].Lost, r[1].Lost)
	}
	t.Logf("\n%s", Table(r))
}

func TestWriteSVGEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSVG(&buf, "", nil); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(buf.Bytes(), new(struct{})); err != nil {
		t.Errorf("empty plot is not XML: %v", err)
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct{ span, step, ceil float64 }{
		{10, 2, 10}, {43, 10, 50}, {0.7, 0.2, 0.8}, {300, 100, 300}, {301, 100, 400},
	} {
		if got := niceStep(tc.span, 5); got != tc.step {
			t.Errorf("niceStep(%v) = %v, want %v", tc.span, got, tc.step)
		}
		if got := niceCeil(tc.span); got != tc.ceil {
			t.Errorf("niceCeil(%v) = %v, want %v", tc.span, got, tc.ceil)
		}
	}
}
