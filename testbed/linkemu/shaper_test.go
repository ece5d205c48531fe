package linkemu

import (
	"math"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

func TestShaperPerfectLinkIsImmediate(t *testing.T) {
	s := newShaper(Impairment{}, 0, 1, 1)
	for i := range int64(100) {
		now := i * 1000
		due, v := s.admit(now, 1500)
		if v != pass || due != now {
			t.Fatalf("frame %d: due %d verdict %d, want %d pass", i, due, v, now)
		}
	}
}

// binomialOK reports whether k losses of n at probability p are within
// 5 standard deviations: fails by chance about once in 3.5 million runs.
func binomialOK(k, n int, p float64) bool {
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(k)-float64(n)*p) <= 5*sd
}

func TestShaperBernoulliLoss(t *testing.T) {
	for _, p := range []float64{0, 0.01, 0.1, 0.5, 1} {
		s := newShaper(Impairment{Loss: p}, 0, 42, 1)
		const n = 20000
		lost := 0
		for i := range n {
			if _, v := s.admit(int64(i), 100); v == dropLoss {
				lost++
			}
		}
		if !binomialOK(lost, n, p) {
			t.Errorf("loss %v: lost %d of %d", p, lost, n)
		}
	}
}

// meanBurst returns the mean length of runs of consecutive losses.
func meanBurst(lost []bool) float64 {
	bursts, total, run := 0, 0, 0
	for _, l := range append(lost, false) {
		if l {
			run++
			continue
		}
		if run > 0 {
			bursts++
			total += run
			run = 0
		}
	}
	return float64(total) / float64(bursts)
}

func TestShaperGilbertElliottBursts(t *testing.T) {
	ge := &GilbertElliott{PGoodBad: 0.01, PBadGood: 0.2, LossBad: 1}
	want := ge.MeanLoss() // ≈ 4.8 %
	const n = 200000
	run := func(imp Impairment, reason verdict) (float64, float64) {
		s := newShaper(imp, 0, 7, 1)
		lost := make([]bool, n)
		k := 0
		for i := range lost {
			_, v := s.admit(int64(i), 100)
			lost[i] = v == reason
			if lost[i] {
				k++
			}
		}
		return float64(k) / n, meanBurst(lost)
	}
	geLoss, geBurst := run(Impairment{GE: ge}, dropGE)
	bLoss, bBurst := run(Impairment{Loss: want}, dropLoss)
	t.Logf("GE: loss %.4f mean burst %.2f; Bernoulli: loss %.4f mean burst %.2f", geLoss, geBurst, bLoss, bBurst)
	if math.Abs(geLoss-want) > 0.01 {
		t.Errorf("GE loss %.4f, want ≈ %.4f", geLoss, want)
	}
	if math.Abs(geBurst-1/ge.PBadGood) > 0.5 {
		t.Errorf("GE mean burst %.2f, want ≈ 1/PBadGood = %.2f", geBurst, 1/ge.PBadGood)
	}
	if bBurst > 1.2 || geBurst < 3*bBurst {
		t.Errorf("GE bursts (%.2f) not clearly longer than Bernoulli (%.2f)", geBurst, bBurst)
	}
}

func TestShaperOutageSchedule(t *testing.T) {
	s := newShaper(Impairment{Outages: []Outage{
		{From: time.Second, To: 2 * time.Second},
		{From: 10 * time.Second, To: 10*time.Second + 100*time.Millisecond, Every: time.Second},
	}}, 5*ms, 1, 1)
	for _, c := range []struct {
		since int64
		down  bool
	}{
		{0, false}, {999 * ms, false}, {1000 * ms, true}, {1999 * ms, true}, {2000 * ms, false},
		{9999 * ms, false}, {10000 * ms, true}, {10099 * ms, true}, {10100 * ms, false},
		{11050 * ms, true}, {11500 * ms, false}, {25000 * ms, true},
	} {
		_, v := s.admit(5*ms+c.since, 100)
		if got := v == dropOutage; got != c.down {
			t.Errorf("at %v since start: down %v, want %v", time.Duration(c.since), got, c.down)
		}
	}
	s.down = true
	if _, v := s.admit(5*ms, 100); v != dropOutage {
		t.Error("SetDown(true) did not drop")
	}
}

func TestShaperRateSerializesAndTailDrops(t *testing.T) {
	// 1 Mbit/s: a 1250-byte frame takes 10 ms on the wire.
	s := newShaper(Impairment{RateBps: 1_000_000, QueueLimit: 25 * time.Millisecond, Delay: 5 * time.Millisecond}, 0, 1, 1)
	var dues []int64
	var verdicts []verdict
	for range 5 {
		due, v := s.admit(0, 1250)
		dues, verdicts = append(dues, due), append(verdicts, v)
	}
	// Frames 1–3 start at 0, 10, 20 ms (queue delay ≤ 25 ms); frame 4
	// would start at 30 ms: dropped, and so is frame 5.
	want := []int64{15 * ms, 25 * ms, 35 * ms}
	for i, w := range want {
		if verdicts[i] != pass || dues[i] != w {
			t.Errorf("frame %d: due %v verdict %d, want %v pass", i, time.Duration(dues[i]), verdicts[i], time.Duration(w))
		}
	}
	if verdicts[3] != dropRate || verdicts[4] != dropRate {
		t.Errorf("frames over the queue limit: verdicts %v, want dropRate", verdicts[3:])
	}
	// Once the queue drains, a frame goes at once again (plus its wire time and delay).
	if due, v := s.admit(100*ms, 1250); v != pass || due != 115*ms {
		t.Errorf("after drain: due %v verdict %d, want 115ms", time.Duration(due), v)
	}
}

func TestShaperJitterKeepsOrderUnlessReorder(t *testing.T) {
	imp := Impairment{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}
	for _, reorder := range []bool{false, true} {
		imp.Reorder = reorder
		s := newShaper(imp, 0, 3, 1)
		overtakes := 0
		var last int64
		for i := range int64(1000) {
			now := i * int64(100*time.Microsecond)
			due, _ := s.admit(now, 100)
			if d := due - now; d < 5*ms && !reorder || d < 0 {
				t.Fatalf("frame %d: delay %v below delay−jitter", i, time.Duration(d))
			}
			if due < last {
				overtakes++
			}
			last = max(last, due)
		}
		if reorder != (overtakes > 0) {
			t.Errorf("reorder=%v: %d overtakes", reorder, overtakes)
		}
	}
}

func TestShaperSeedReproducible(t *testing.T) {
	pattern := func(seed uint64) (out []verdict) {
		s := newShaper(Impairment{Loss: 0.3, GE: &GilbertElliott{PGoodBad: 0.1, PBadGood: 0.3, LossBad: 1}}, 0, seed, 1)
		for i := range 200 {
			_, v := s.admit(int64(i), 100)
			out = append(out, v)
		}
		return out
	}
	a, b, c := pattern(9), pattern(9), pattern(10)
	same := func(x, y []verdict) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("same seed gave different loss patterns")
	}
	if same(a, c) {
		t.Error("different seeds gave the same loss pattern")
	}
}
