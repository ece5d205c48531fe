package testbed

import (
	"fmt"
	"slices"
	"strings"
)

// Summary says in plain words what the run shows: loss and latency of
// each link alone against polylink's, each cut with its gap, and on route
// nat where the server reaches the robot.
func (r *Run) Summary() string {
	p := r.Result("polylink")
	if p == nil {
		return ""
	}
	if r.Scenario.Limit != "" {
		late := uint64(0)
		if r.Receiver != nil {
			late = r.Receiver.Counters.LateDuplicates
		}
		return fmt.Sprintf("This scenario shows a limit of the design: %s.\nThe application saw %d duplicates; the receiving daemon recognised %d late duplicates.\n",
			r.Scenario.Limit, p.Duplicates, late)
	}
	l0, l1 := r.bare(0), r.bare(1)
	if l0 == nil || l1 == nil {
		where := "across the router"
		if r.Scenario.Route == RouteDirect {
			where = "from VM0 to VM1"
		}
		return fmt.Sprintf("polylink carried %d packets %s and lost %d (%.2f %%), p50 %.1f ms, with %d duplicates at the application.\n",
			p.Sent, where, p.Lost, 100*p.LossRatio, p.Latency.P50, p.Duplicates) + r.policySummary()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Loss: %s lost %.2f %% of the stream, %s %.2f %%%s; polylink delivered all but %.2f %% (%d of %d lost).\n",
		l0.Name, 100*l0.LossRatio, l1.Name, 100*l1.LossRatio, r.cutsIncluded(), 100*p.LossRatio, p.Lost, p.Sent)
	fastest := l0
	if l1.Latency.P50 < l0.Latency.P50 {
		fastest = l1
	}
	added, _ := r.addedP50(p, fastest)
	fmt.Fprintf(&b, "Latency p50 / p99: %s %.1f / %.1f ms, %s %.1f / %.1f ms, polylink %.1f / %.1f ms: the faster link's, %+.1f ms at the median while it is up%s.\n",
		l0.Name, l0.Latency.P50, l0.Latency.P99, l1.Name, l1.Latency.P50, l1.Latency.P99, p.Latency.P50, p.Latency.P99,
		added, r.p99Note())
	for k, w := range p.Windows {
		label := strings.TrimSuffix(w.Label, " cut")
		if label == w.Label || k >= len(l0.Windows) {
			continue
		}
		cut, surv := l0, l1
		if label == r.Scenario.netName(1) {
			cut, surv = l1, l0
		}
		cw, sw := cut.Windows[k], surv.Windows[k]
		why := ""
		if w.Lost < sw.Lost && r.secondCopies() > 0 {
			why = ", more than polylink: with one path left, polylink sends each real-time packet on it twice, a little apart in time, so one loss does not lose the packet"
		}
		fmt.Fprintf(&b, "The %.1f s %s cut: %s lost %d of %d packets, %d in a row; polylink lost %d (%.1f %%; %s lost %d%s), "+
			"at most %d in a row: no gap, no failover.\n",
			(w.ToMS-w.FromMS)/1000, label, cut.Name, cw.Lost, cw.Sent, cw.LongestLossBurst, w.Lost, 100*w.LossRatio, surv.Name, sw.Lost, why, w.LongestLossBurst)
	}
	for _, w := range p.Windows {
		if !strings.HasSuffix(w.Label, " cut") && !strings.HasSuffix(w.Label, " back") {
			fmt.Fprintf(&b, "%s (%.1f s from t=%.1f s): polylink lost %d of %d.\n", w.Label, (w.ToMS-w.FromMS)/1000, w.FromMS/1000, w.Lost, w.Sent)
		}
	}
	b.WriteString(r.natSummary())
	b.WriteString(r.policySummary())
	return b.String()
}

// cutsIncluded notes that the bare links' loss counts their cuts.
func (r *Run) cutsIncluded() string {
	if slices.ContainsFunc(r.Scenario.Events, func(e Event) bool { return e.Action == "cut" }) {
		return " (cuts included)"
	}
	return ""
}

// p99Note says why polylink's p99 is the slower link's when a cut of the
// faster one left the slower to carry the stream alone.
func (r *Run) p99Note() string {
	l0, l1 := r.bare(0), r.bare(1)
	for _, e := range r.Scenario.Events {
		if e.Action != "cut" || e.Net > 1 {
			continue
		}
		cut, surv := l0, l1
		if e.Net == 1 {
			cut, surv = l1, l0
		}
		if surv.Latency.P50 > cut.Latency.P50 {
			return fmt.Sprintf("; its p99 is %s's, which alone carried the stream during the cut", r.Scenario.netName(1-e.Net))
		}
	}
	return ""
}
