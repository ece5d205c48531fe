package linkemu

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in log-linear buckets: exact below 32 ns, then
// 32 buckets per power of two (≤ 3 % relative error), up to 2^40 ns (18 min).
// Add is lock-free; one writer and any number of readers.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Int64
	max    atomic.Int64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histMaxExp  = 40
	histBuckets = (histMaxExp - histSubBits + 1) * histSub
)

func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	exp := bits.Len64(v) - histSubBits - 1
	i := (exp+1)*histSub + int(v>>uint(exp)) - histSub
	return min(i, histBuckets-1)
}

// histMid returns a value in the middle of bucket i.
func histMid(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	exp := i/histSub - 1
	low := int64(histSub+i%histSub) << uint(exp)
	return low + (int64(1)<<uint(exp))/2
}

func (h *histogram) add(d int64) {
	d = max(d, 0)
	h.counts[histBucket(uint64(d))].Add(1)
	h.n.Add(1)
	h.sum.Add(d)
	for m := h.max.Load(); d > m && !h.max.CompareAndSwap(m, d); m = h.max.Load() {
	}
}

// Lateness summarises how late queued frames left: actual send time minus
// due time. Frames on the fast path (no delay, no rate limit) are not counted.
type Lateness struct {
	Count uint64        `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

func (h *histogram) snapshot() Lateness {
	var counts [histBuckets]uint64
	var total uint64
	for i := range counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	l := Lateness{Count: total, Max: time.Duration(h.max.Load())}
	if total == 0 {
		return l
	}
	l.Mean = time.Duration(h.sum.Load() / int64(h.n.Load()))
	quantile := func(q float64) time.Duration {
		rank := uint64(q*float64(total-1)) + 1
		var seen uint64
		for i, c := range counts {
			if seen += c; seen >= rank {
				return min(time.Duration(histMid(i)), l.Max)
			}
		}
		return l.Max
	}
	l.P50, l.P90, l.P99, l.P999 = quantile(0.50), quantile(0.90), quantile(0.99), quantile(0.999)
	return l
}
