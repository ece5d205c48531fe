package stream

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// handBuilt is a 20-packet stream at 1,000 packet/s (packet k sent at k ms)
// with a loss burst of 3 (seqs 5–7), a single loss (15), a duplicate of 2, 10
// arriving after 11 and 200 ms late, and known latencies.
func handBuilt() (SenderStats, Capture) {
	s := SenderStats{Profile: AudioProfile(1000, 100, 20*time.Millisecond), Sent: 20}
	const msNS = int64(time.Millisecond)
	arrive := func(seq uint64, latencyMS int64) Arrival {
		sent := 1_000_000_000 + int64(seq)*msNS
		return Arrival{Seq: seq, SentNS: sent, RecvNS: sent + latencyMS*msNS}
	}
	c := Capture{Arrivals: []Arrival{
		arrive(0, 10), arrive(1, 12), arrive(2, 11), arrive(2, 30), arrive(3, 10), arrive(4, 14),
		arrive(8, 10), arrive(9, 13), arrive(11, 10), arrive(10, 200), arrive(12, 10),
		arrive(13, 11), arrive(14, 10), arrive(16, 12), arrive(17, 10), arrive(18, 16), arrive(19, 10),
	}}
	return s, c
}

func TestAnalyzeCounts(t *testing.T) {
	s, c := handBuilt()
	r := Analyze("hand", s, c, Options{})
	got := map[string]uint64{
		"sent": r.Sent, "received": r.Received, "lost": r.Lost, "late": r.Late,
		"lost_or_late": r.LostOrLate, "duplicates": r.Duplicates, "reordered": r.Reordered,
		"loss_bursts": r.LossBursts, "longest_loss_burst": r.LongestLossBurst, "foreign": r.Foreign,
	}
	want := map[string]uint64{
		"sent": 20, "received": 16, "lost": 4, "late": 1,
		"lost_or_late": 5, "duplicates": 1, "reordered": 1,
		"loss_bursts": 2, "longest_loss_burst": 3, "foreign": 0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts = %v\nwant     %v", got, want)
	}
	if r.LossRatio != 0.2 || r.LostOrLateRatio != 0.25 || r.DeadlineMS != 150 {
		t.Errorf("loss ratio %v, lost-or-late ratio %v, deadline %v ms; want 0.2, 0.25, 150",
			r.LossRatio, r.LostOrLateRatio, r.DeadlineMS)
	}
}

func TestAnalyzeLatency(t *testing.T) {
	s, c := handBuilt()
	r := Analyze("hand", s, c, Options{})
	// First-copy latencies sorted: 10×8, 11, 11, 12, 12, 13, 14, 16, 200.
	want := Latency{Min: 10, Mean: 369.0 / 16, P50: 10, P90: 16, P99: 200, P999: 200, Max: 200}
	if r.Latency != want {
		t.Errorf("latency = %+v\nwant      %+v", r.Latency, want)
	}
}

func TestAnalyzeJitterRFC3550(t *testing.T) {
	s, c := handBuilt()
	r := Analyze("hand", s, c, Options{})
	// Transits in arrival order (the duplicate skipped):
	// 10 12 11 10 14 10 13 10 200 10 11 10 12 10 16 10 ms,
	// J += (|ΔT| − J)/16 from J = 0.
	const want = 17.23102697808732
	if math.Abs(r.JitterMS-want) > 1e-12 {
		t.Errorf("jitter = %v ms, want %v", r.JitterMS, want)
	}
}

func TestJitterConstantTransitIsZero(t *testing.T) {
	var j jitter
	for range 10 {
		j.add(5_000_000)
	}
	if j.j != 0 {
		t.Errorf("jitter of constant transit = %v, want 0", j.j)
	}
	j.add(5_000_000 + 16_000) // one step of 16 µs moves J by 1 µs
	if j.j != 1000 {
		t.Errorf("jitter after one 16 µs step = %v ns, want 1000", j.j)
	}
}

func TestAnalyzeSeries(t *testing.T) {
	s, c := handBuilt()
	r := Analyze("hand", s, c, Options{})
	want := Series{BucketMS: 10, Buckets: []Bucket{
		{TMS: 0, Sent: 10, Lost: 3, MinMS: 10, P50MS: 11, MaxMS: 14},
		{TMS: 10, Sent: 10, Lost: 1, Late: 1, MinMS: 10, P50MS: 10, MaxMS: 200},
	}}
	if !reflect.DeepEqual(r.Series, want) {
		t.Errorf("series = %+v\nwant     %+v", r.Series, want)
	}
}

func TestAnalyzeWindows(t *testing.T) {
	s, c := handBuilt()
	r := Analyze("hand", s, c, Options{Windows: []Window{
		{Label: "cut", From: 4 * time.Millisecond, To: 8 * time.Millisecond},
		{Label: "slow", From: 10 * time.Millisecond, To: 12 * time.Millisecond},
		{Label: "after", From: time.Second, To: 2 * time.Second},
		{Label: "both runs", From: 5 * time.Millisecond, To: 17 * time.Millisecond},
	}})
	want := []WindowResult{
		{Label: "cut", FromMS: 4, ToMS: 8, Sent: 4, Lost: 3, LossRatio: 0.75, LostOrLate: 3, LostOrLateRatio: 0.75, LongestLossBurst: 3},
		{Label: "slow", FromMS: 10, ToMS: 12, Sent: 2, LostOrLate: 1, LostOrLateRatio: 0.5},
		{Label: "after", FromMS: 1000, ToMS: 2000},
		// 5, 6, 7 lost, then 15: the longer run counts.
		{Label: "both runs", FromMS: 5, ToMS: 17, Sent: 12, Lost: 4, LossRatio: 4.0 / 12, LostOrLate: 5, LostOrLateRatio: 5.0 / 12, LongestLossBurst: 3},
	}
	if !reflect.DeepEqual(r.Windows, want) {
		t.Errorf("windows = %+v\nwant      %+v", r.Windows, want)
	}
}

func TestAnalyzeDeadlineOption(t *testing.T) {
	s, c := handBuilt()
	r := Analyze("hand", s, c, Options{Deadline: 12 * time.Millisecond})
	// Received later than 12 ms: 13, 14, 16 and 200 ms.
	if r.Late != 4 || r.LostOrLate != 8 {
		t.Errorf("late %d, lost or late %d with a 12 ms deadline; want 4, 8", r.Late, r.LostOrLate)
	}
}

func TestAnalyzeForeignSequence(t *testing.T) {
	s := SenderStats{Profile: AudioProfile(1000, 100, 3*time.Millisecond), Sent: 3}
	c := Capture{Arrivals: []Arrival{{Seq: 0}, {Seq: 1}, {Seq: 2}, {Seq: 7}}}
	r := Analyze("x", s, c, Options{})
	if r.Received != 3 || r.Lost != 0 || r.Foreign != 1 {
		t.Errorf("received %d lost %d foreign %d; want 3 0 1", r.Received, r.Lost, r.Foreign)
	}
}

func TestAnalyzeNothingReceived(t *testing.T) {
	s := SenderStats{Profile: AudioProfile(1000, 100, 5*time.Millisecond), Sent: 5}
	r := Analyze("dead", s, Capture{}, Options{})
	if r.Lost != 5 || r.LossRatio != 1 || r.LossBursts != 1 || r.LongestLossBurst != 5 ||
		r.Latency != (Latency{}) || r.JitterMS != 0 {
		t.Errorf("all lost: %+v", r)
	}
}

func TestNearestRank(t *testing.T) {
	sorted := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		p    float64
		want int64
	}{{0, 1}, {10, 1}, {11, 2}, {50, 5}, {90, 9}, {99, 10}, {100, 10}} {
		if got := nearestRank(sorted, tc.p); got != tc.want {
			t.Errorf("p%v = %d, want %d", tc.p, got, tc.want)
		}
	}
}

func TestBucketWidth(t *testing.T) {
	for _, tc := range []struct {
		d, want time.Duration
	}{
		{2 * time.Second, 10 * time.Millisecond},
		{6 * time.Second, 10 * time.Millisecond},
		{6*time.Second + 1, 20 * time.Millisecond},
		{60 * time.Second, 100 * time.Millisecond},
	} {
		if got := (Options{}).withDefaults().bucketWidth(tc.d); got != tc.want {
			t.Errorf("bucket for %v = %v, want %v", tc.d, got, tc.want)
		}
	}
}
