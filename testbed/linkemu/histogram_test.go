package linkemu

import (
	"math"
	"testing"
	"time"
)

func TestHistogramBucketsAreMonotonicAndTight(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<30; v = v*17/16 + 1 {
		i := histBucket(v)
		if i < prev {
			t.Fatalf("bucket(%d) = %d < bucket of a smaller value %d", v, i, prev)
		}
		prev = i
		if mid := histMid(i); math.Abs(float64(mid)-float64(v)) > 0.035*float64(v)+1 {
			t.Fatalf("value %d lands in bucket %d with midpoint %d", v, i, mid)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.add(int64(i) * int64(time.Microsecond)) // uniform 1 µs … 10 ms
	}
	l := h.snapshot()
	check := func(name string, got, want time.Duration) {
		if math.Abs(float64(got-want)) > 0.04*float64(want) {
			t.Errorf("%s = %v, want ≈ %v", name, got, want)
		}
	}
	check("p50", l.P50, 5*time.Millisecond)
	check("p99", l.P99, 9900*time.Microsecond)
	check("mean", l.Mean, 5000500*time.Nanosecond)
	if l.Max != 10*time.Millisecond || l.Count != 10000 {
		t.Errorf("max %v count %d", l.Max, l.Count)
	}
}
