package stream

import "time"

// Result is one stream's measurements. Latencies are one-way, in
// milliseconds, over the first copy of each packet; ratios are of Sent.
//
// JSON keys (stable; new ones may be added, none renamed):
//
//	name, profile            the system measured ("link 0", "polylink") and its traffic
//	sent, send_errors        packets tried (failed writes included) and failed writes
//	send_errors_by_reason    failed writes by errno name, omitted when none
//	received                 distinct packets received
//	lost, loss_ratio         sent − received, and its share of sent
//	deadline_ms              the playout deadline for "late"
//	late                     packets received after the deadline
//	lost_or_late, lost_or_late_ratio
//	duplicates               copies of an already received packet (0 through polylink)
//	reordered                packets that arrived after a higher sequence number
//	loss_bursts, longest_loss_burst   runs of consecutive lost sequence numbers
//	latency_ms               {min, mean, p50, p90, p99, p999, max}
//	jitter_ms                RFC 3550 interarrival jitter
//	pacing                   {p50_us, p99_us, max_us}: send time − scheduled time
//	foreign, unrecorded      datagrams of other streams, arrivals beyond capacity (omitted when 0)
//	windows                  [{label, from_ms, to_ms, sent, lost, loss_ratio, lost_or_late, lost_or_late_ratio, longest_loss_burst}]
//	series                   {bucket_ms, buckets: [{t_ms, sent, lost, late, min_ms, p50_ms, max_ms}]}
type Result struct {
	Name             string            `json:"name"`
	Profile          Profile           `json:"profile"`
	Sent             uint64            `json:"sent"`
	SendErrors       uint64            `json:"send_errors"`
	ErrorsByReason   map[string]uint64 `json:"send_errors_by_reason,omitempty"`
	Received         uint64            `json:"received"`
	Lost             uint64            `json:"lost"`
	LossRatio        float64           `json:"loss_ratio"`
	DeadlineMS       float64           `json:"deadline_ms"`
	Late             uint64            `json:"late"`
	LostOrLate       uint64            `json:"lost_or_late"`
	LostOrLateRatio  float64           `json:"lost_or_late_ratio"`
	Duplicates       uint64            `json:"duplicates"`
	Reordered        uint64            `json:"reordered"`
	LossBursts       uint64            `json:"loss_bursts"`
	LongestLossBurst uint64            `json:"longest_loss_burst"`
	Latency          Latency           `json:"latency_ms"`
	JitterMS         float64           `json:"jitter_ms"`
	Pacing           Pacing            `json:"pacing"`
	Foreign          uint64            `json:"foreign,omitempty"`
	Unrecorded       uint64            `json:"unrecorded,omitempty"`
	Windows          []WindowResult    `json:"windows,omitempty"`
	Series           Series            `json:"series"`
}

// Latency summarises one-way latencies in milliseconds. Percentiles are
// nearest-rank: the smallest sample with at least p % of samples at or below.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Window is a span of the stream, as offsets from its start, whose loss is
// reported on its own: typically an outage the scenario caused. A packet
// belongs to the window its scheduled send time falls in, [From, To).
type Window struct {
	Label    string
	From, To time.Duration
}

// WindowResult is loss within one Window.
type WindowResult struct {
	Label           string  `json:"label"`
	FromMS          float64 `json:"from_ms"`
	ToMS            float64 `json:"to_ms"`
	Sent            uint64  `json:"sent"`
	Lost            uint64  `json:"lost"`
	LossRatio       float64 `json:"loss_ratio"`
	LostOrLate      uint64  `json:"lost_or_late"`
	LostOrLateRatio float64 `json:"lost_or_late_ratio"`
	// LongestLossBurst is the longest run of consecutive lost packets
	// within the window: the gap a listener hears.
	LongestLossBurst uint64 `json:"longest_loss_burst"`
}

// Series is the stream over time for plotting: packets grouped into equal
// buckets by scheduled send time.
type Series struct {
	BucketMS float64  `json:"bucket_ms"`
	Buckets  []Bucket `json:"buckets"`
}

// Bucket is one slice of a Series. Latency fields are omitted (zero) when no
// packet of the bucket arrived; P50 is the lower median.
type Bucket struct {
	TMS   float64 `json:"t_ms"`
	Sent  uint64  `json:"sent"`
	Lost  uint64  `json:"lost,omitempty"`
	Late  uint64  `json:"late,omitempty"`
	MinMS float64 `json:"min_ms,omitempty"`
	P50MS float64 `json:"p50_ms,omitempty"`
	MaxMS float64 `json:"max_ms,omitempty"`
}

// ratio returns part/whole, 0 when whole is 0.
func ratio(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}
