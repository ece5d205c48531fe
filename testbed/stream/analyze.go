package stream

import (
	"slices"
	"time"
)

// missing marks a sequence number no copy of which arrived.
const missing = -1

// Analyze turns what a Sender did and what its Receiver saw into a Result
// named name (the system measured, e.g. "link 0" or "polylink").
func Analyze(name string, s SenderStats, c Capture, opt Options) Result {
	opt = opt.withDefaults()
	r := Result{
		Name:           name,
		Profile:        s.Profile,
		Sent:           s.Sent,
		SendErrors:     s.SendErrors,
		ErrorsByReason: s.ErrorsByReason,
		DeadlineMS:     ms(int64(opt.Deadline)),
		Pacing:         s.Pacing,
		Foreign:        c.Foreign,
		Unrecorded:     c.Unrecorded,
	}
	first, arrivalOrder := r.scanArrivals(c.Arrivals, int64(opt.Deadline))
	r.Lost = r.Sent - r.Received
	r.LossRatio = ratio(r.Lost, r.Sent)
	r.LostOrLate = r.Lost + r.Late
	r.LostOrLateRatio = ratio(r.LostOrLate, r.Sent)
	r.LossBursts, r.LongestLossBurst = lossBursts(first)
	r.Latency = summariseLatency(arrivalOrder)
	r.Series, r.Windows = walkSchedule(s.Profile, first, opt)
	return r
}

// scanArrivals goes through the arrivals in order once: it counts received,
// duplicates, reordered and late packets, runs the jitter estimator, and
// returns the first copy's latency per sequence number (missing if none) and
// the latencies of first copies in arrival order.
func (r *Result) scanArrivals(arrivals []Arrival, deadline int64) (first, arrivalOrder []int64) {
	first = make([]int64, r.Sent)
	for i := range first {
		first[i] = missing
	}
	arrivalOrder = make([]int64, 0, min(uint64(len(arrivals)), r.Sent))
	var j jitter
	var highest uint64
	for _, a := range arrivals {
		if a.Seq >= r.Sent {
			r.Foreign++ // not a packet this sender sent
			continue
		}
		if first[a.Seq] != missing {
			r.Duplicates++
			continue
		}
		latency := max(a.RecvNS-a.SentNS, 0)
		first[a.Seq] = latency
		if len(arrivalOrder) > 0 && a.Seq < highest {
			r.Reordered++
		}
		highest = max(highest, a.Seq)
		if latency > deadline {
			r.Late++
		}
		j.add(latency)
		arrivalOrder = append(arrivalOrder, latency)
	}
	r.Received = uint64(len(arrivalOrder))
	r.JitterMS = j.j / 1e6
	return first, arrivalOrder
}

// lossBursts counts runs of consecutive missing sequence numbers and returns
// the longest.
func lossBursts(first []int64) (bursts, longest uint64) {
	var run uint64
	for _, l := range first {
		if l != missing {
			run = 0
			continue
		}
		if run == 0 {
			bursts++
		}
		run++
		longest = max(longest, run)
	}
	return bursts, longest
}

func summariseLatency(latencies []int64) Latency {
	if len(latencies) == 0 {
		return Latency{}
	}
	var sum float64
	for _, l := range latencies {
		sum += float64(l)
	}
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	return Latency{
		Min:  ms(sorted[0]),
		Mean: sum / float64(len(sorted)) / 1e6,
		P50:  ms(nearestRank(sorted, 50)),
		P90:  ms(nearestRank(sorted, 90)),
		P99:  ms(nearestRank(sorted, 99)),
		P999: ms(nearestRank(sorted, 99.9)),
		Max:  ms(sorted[len(sorted)-1]),
	}
}

// walkSchedule replays the profile's schedule over the sent sequence numbers
// to place each packet, lost or not, at its scheduled time: into a series
// bucket and into the windows that contain it.
func walkSchedule(p Profile, first []int64, opt Options) (Series, []WindowResult) {
	deadline := int64(opt.Deadline)
	width := opt.bucketWidth(p.Duration)
	series := Series{BucketMS: ms(int64(width))}
	windows := make([]WindowResult, len(opt.Windows))
	runs := make([]uint64, len(opt.Windows)) // current run of lost packets per window
	for i, w := range opt.Windows {
		windows[i] = WindowResult{Label: w.Label, FromMS: ms(int64(w.From)), ToMS: ms(int64(w.To))}
	}

	var cur Bucket
	curIndex := int64(-1)
	var latencies []int64 // of the current bucket
	flush := func() {
		if cur.Sent == 0 {
			return
		}
		if len(latencies) > 0 {
			slices.Sort(latencies)
			cur.MinMS = roundUS(ms(latencies[0]))
			cur.P50MS = roundUS(ms(nearestRank(latencies, 50)))
			cur.MaxMS = roundUS(ms(latencies[len(latencies)-1]))
		}
		series.Buckets = append(series.Buckets, cur)
	}

	sched := newSchedule(p)
	for _, latency := range first {
		offset, _, ok := sched.next()
		if !ok {
			break // more sent than scheduled cannot happen; stay in bounds
		}
		if index := offset / int64(width); index != curIndex {
			flush()
			curIndex = index
			cur = Bucket{TMS: ms(index * int64(width))}
			latencies = latencies[:0]
		}
		lost, late := latency == missing, latency > deadline
		cur.Sent++
		switch {
		case lost:
			cur.Lost++
		case late:
			cur.Late++
		}
		if !lost {
			latencies = append(latencies, latency)
		}
		for i, w := range opt.Windows {
			if offset >= int64(w.From) && offset < int64(w.To) {
				windows[i].add(lost, late)
				if !lost {
					runs[i] = 0
					continue
				}
				runs[i]++
				windows[i].LongestLossBurst = max(windows[i].LongestLossBurst, runs[i])
			}
		}
	}
	flush()
	for i := range windows {
		windows[i].LossRatio = ratio(windows[i].Lost, windows[i].Sent)
		windows[i].LostOrLateRatio = ratio(windows[i].LostOrLate, windows[i].Sent)
	}
	return series, windows
}

func (w *WindowResult) add(lost, late bool) {
	w.Sent++
	if lost {
		w.Lost++
	}
	if lost || late {
		w.LostOrLate++
	}
}

// WindowSince returns the Window labelled label from fromNS to toNS
// (CLOCK_MONOTONIC, see Now) for a stream that started at startNS: how a
// scenario turns the moments it cut and restored a link into a window.
func WindowSince(label string, startNS, fromNS, toNS int64) Window {
	return Window{Label: label, From: time.Duration(fromNS - startNS), To: time.Duration(toNS - startNS)}
}
