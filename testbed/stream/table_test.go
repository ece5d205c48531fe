package stream

import (
	"strings"
	"testing"
)

func sampleResults() []Result {
	window := func(sent, lost uint64) []WindowResult {
		return []WindowResult{{Label: "link 0 cut", FromMS: 2000, ToMS: 5000, Sent: sent, Lost: lost, LossRatio: ratio(lost, sent)}}
	}
	return []Result{
		{
			Name: "link 0", Sent: 10000, Lost: 3012, LossRatio: 0.3012, DeadlineMS: 150,
			LostOrLate: 3020, LostOrLateRatio: 0.302, Received: 6988, SendErrors: 2990,
			Latency: Latency{P50: 20.31, P99: 41.5, Max: 180.25}, JitterMS: 1.234,
			LongestLossBurst: 3000, Windows: window(3000, 3000),
		},
		{
			Name: "link 1", Sent: 10000, Lost: 1, LossRatio: 0.00001, DeadlineMS: 150,
			LostOrLate: 1, LostOrLateRatio: 0.00001, Received: 9999,
			Latency: Latency{P50: 40.02, P99: 45.5, Max: 60}, JitterMS: 0.5,
			LongestLossBurst: 1, Reordered: 2, Windows: window(3000, 0),
		},
		{
			Name: "polylink", Sent: 10000, DeadlineMS: 150, Received: 10000,
			Latency: Latency{P50: 20.4, P99: 40.9, Max: 58.125}, JitterMS: 0.75,
			Windows: window(3000, 0),
		},
		{Name: "dead", Sent: 10000, Lost: 10000, LossRatio: 1, LostOrLate: 10000, LostOrLateRatio: 1, DeadlineMS: 150},
	}
}

func TestTableGolden(t *testing.T) {
	const want = `                                     link 0      link 1  polylink          dead
----------------------------  -------------  ----------  --------  ------------
sent (packets)                        10000       10000     10000         10000
lost (packets, %)             3012 (30.12%)  1 (<0.01%)    0 (0%)  10000 (100%)
lost or late >150 ms          3020 (30.20%)  1 (<0.01%)    0 (0%)  10000 (100%)
latency p50 (ms)                      20.31       40.02     20.40             -
latency p99 (ms)                      41.50       45.50     40.90             -
latency max (ms)                     180.25       60.00     58.12             -
jitter RFC 3550 (ms)                   1.23        0.50      0.75          0.00
longest loss burst (packets)           3000           1         0             0
duplicates (packets)                      0           0         0             0
reordered (packets)                       0           2         0             0
send errors (packets)                  2990           0         0             0
lost in link 0 cut              3000 (100%)      0 (0%)    0 (0%)             -
`
	got := Table(sampleResults())
	if got != want {
		t.Errorf("Table:\n%s\nwant:\n%s", got, want)
	}
	for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if len(line) > 80 {
			t.Errorf("line %d is %d columns wide: %q", i, len(line), line)
		}
	}
}

func TestTableEmpty(t *testing.T) {
	if got := Table(nil); got != "" {
		t.Errorf("Table(nil) = %q, want empty", got)
	}
}

func TestPercent(t *testing.T) {
	for share, want := range map[float64]string{0: "0%", 1: "100%", 0.00001: "<0.01%", 0.0001: "0.01%", 0.5: "50.00%"} {
		if got := percent(share); got != want {
			t.Errorf("percent(%v) = %q, want %q", share, got, want)
		}
	}
}
