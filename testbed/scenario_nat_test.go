package testbed

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed/stream"
)

func TestNATUplinkOf(t *testing.T) {
	for addr, want := range map[string]int{
		NAT1Public + ":45820": 0, NAT1NewPublic + ":1": 0, NAT2Public + ":40211": 1, NAT2NewPublic + ":45820": 1,
		NATServerAddr + ":45820": -1, "198.18.122.20:1": -1, "": -1,
	} {
		if got := natUplinkOf(addr); got != want {
			t.Errorf("natUplinkOf(%q) = %d, want %d", addr, got, want)
		}
	}
}

// series is a 100 ms-bucket series of d with p50 f(t) in each bucket.
func series(d time.Duration, f func(tMS float64) float64) stream.Series {
	s := stream.Series{BucketMS: 100}
	for t := 0.0; t < float64(d.Milliseconds()); t += 100 {
		s.Buckets = append(s.Buckets, stream.Bucket{TMS: t, Sent: 50, P50MS: f(t)})
	}
	return s
}

// The demo's scenario on hand-built results: the checks and the summary
// name the uplinks, find the survivor of the wlan0 cut, and measure what
// polylink adds to the faster link's median outside the cut (0.3 ms),
// not over the whole stream (where the cut's share on the slow link
// lifts it).
func TestDemoChecksOnHandBuiltRun(t *testing.T) {
	sc := Builtin()["demo"]
	d := sc.Traffic.Duration
	cut := func(tMS float64) bool { return tMS >= 4000 && tMS < 8000 } // the cut and the second after it
	res := func(name string, lost, cutLost, burst uint64, p50 float64, f func(float64) float64) stream.Result {
		return stream.Result{Name: name, Sent: 7500, Lost: lost, LossRatio: float64(lost) / 7500, Received: 7500 - lost,
			Latency: stream.Latency{P50: p50}, Series: series(d, f),
			Windows: []stream.WindowResult{
				{Label: "wlan0 cut", FromMS: 4000, ToMS: 7000, Sent: 1500, Lost: cutLost, LongestLossBurst: burst},
				{Label: "wlan0 back", FromMS: 7000, ToMS: 8000, Sent: 500},
			}}
	}
	run := &Run{Scenario: sc, Results: []stream.Result{
		res("wlan0 alone", 1800, 1500, 1500, 20.6, func(float64) float64 { return 20.6 }),
		res("wwan0 alone", 150, 30, 2, 47.5, func(float64) float64 { return 47.5 }),
		res("polylink", 8, 3, 1, 21.6, func(tMS float64) float64 {
			if cut(tMS) {
				return 47.6
			}
			return 20.9
		}),
	}}
	added, n := run.addedP50(&run.Results[2], &run.Results[0])
	if math.Abs(added-0.3) > 1e-9 || n != 110 {
		t.Errorf("added p50 %.3f ms over %d slices, want 0.3 over 110 (150 less the 40 of the cut and the second after)", added, n)
	}
	names := ""
	for _, c := range run.Checks() {
		names += c.Name + "\n"
		if !c.OK {
			t.Errorf("%s: %s", c.Name, c.Detail)
		}
	}
	for _, want := range []string{"during the wlan0 cut, loss no worse than wwan0's own", "no gap at the wlan0 cut", "better link alone"} {
		if !strings.Contains(names, want) {
			t.Errorf("no check %q among\n%s", want, names)
		}
	}
	sum := run.Summary()
	for _, want := range []string{"wlan0 alone lost 24.00 %", "The 3.0 s wlan0 cut: wlan0 alone lost 1500 of 1500", "+0.3 ms at the median while it is up"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}
