package stream

import "time"

// Options tune Analyze and Measure; the zero value gives the defaults.
type Options struct {
	// Deadline is the playout deadline: a packet arriving later is as good
	// as lost to real-time media. Default 150 ms.
	Deadline time.Duration
	// Drain is how long Measure keeps receivers listening after the last
	// sender has finished. Default the larger of 500 ms and 2 × Deadline.
	Drain time.Duration
	// Bucket is the Series' time resolution. Default 10 ms.
	Bucket time.Duration
	// MaxBuckets caps the Series' length (to keep JSON small): the bucket
	// is widened by whole multiples of Bucket to fit. Default 600: 10 ms
	// up to 6 s, 100 ms for 60 s.
	MaxBuckets int
	// Windows are spans whose loss is reported on their own.
	Windows []Window
}

// DefaultDeadline is the playout deadline used when Options.Deadline is zero.
const DefaultDeadline = 150 * time.Millisecond

func (o Options) withDefaults() Options {
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	if o.Drain <= 0 {
		o.Drain = max(500*time.Millisecond, 2*o.Deadline)
	}
	if o.Bucket <= 0 {
		o.Bucket = 10 * time.Millisecond
	}
	if o.MaxBuckets <= 0 {
		o.MaxBuckets = 600
	}
	return o
}

// bucketWidth returns the series bucket for a stream of duration d: Bucket,
// or the smallest multiple of it that fits d in MaxBuckets.
func (o Options) bucketWidth(d time.Duration) time.Duration {
	w := o.Bucket
	if n := (d + w - 1) / w; n > time.Duration(o.MaxBuckets) {
		w *= (n + time.Duration(o.MaxBuckets) - 1) / time.Duration(o.MaxBuckets)
	}
	return w
}
