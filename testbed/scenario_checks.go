package testbed

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/polylink/polylink/testbed/stream"
)

// Check is one claim about a run, with what was measured.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Inconclusive marks a failed timing check measured while the machine
	// was too loaded for it to mean anything (the emulators themselves ran
	// late); it is reported, not counted as a failure.
	Inconclusive bool `json:"inconclusive,omitempty"`
}

// outside is a result's sent and lost packets outside its windows (the
// scenario's cuts and recoveries, which do not overlap).
func outside(r *stream.Result) (sent, lost uint64) {
	sent, lost = r.Sent, r.Lost
	for _, w := range r.Windows {
		if !strings.HasSuffix(w.Label, " cut") && !strings.HasSuffix(w.Label, " back") {
			continue // a scenario's own span: it overlaps these
		}
		sent -= min(sent, w.Sent)
		lost -= min(lost, w.Lost)
	}
	return sent, lost
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// slack is three standard deviations of a binomial count with mean m, plus
// one: what chance alone may add to an expected number of losses.
func slack(m float64) float64 { return 3*math.Sqrt(m) + 1 }

// diffSlack is slack for the difference of two counts sampled
// independently from the same mean m (polylink's losses on a link against
// the bare stream's on the same link): its variance is 2m, so 3σ is
// 3·√(2m). Holding one noisy count to the other with slack(m) fails a
// healthy run about 1.7 % of the time.
func diffSlack(m float64) float64 { return 3*math.Sqrt(2*m) + 1 }

// Checks measures the run against what "working" means in DESIGN.md.
func (r *Run) Checks() (checks []Check) {
	p := r.Result("polylink")
	if p == nil {
		return []Check{{Name: "polylink carried the stream", Detail: "no polylink result"}}
	}
	checks = []Check{r.duplicatesCheck(p)}
	l0, l1 := r.bare(0), r.bare(1)
	if r.Scenario.Expect != nil && (l0 == nil || l1 == nil) {
		return append(checks, r.expectChecks()...) // its own bounds replace "nothing lost"
	}
	if l0 == nil || l1 == nil {
		return append(checks, Check{Name: "nothing lost while a path was up", OK: p.Lost == 0,
			Detail: fmt.Sprintf("%d of %d lost", p.Lost, p.Sent)})
	}
	defer func() { checks = append(checks, r.expectChecks()...) }()
	n, lost := outside(p)
	s0, x0 := outside(l0)
	s1, x1 := outside(l1)
	p0, p1 := ratio(x0, s0), ratio(x1, s1)
	expect := p0 * p1 * float64(n)
	better := min(l0.Lost, l1.Lost)
	checks = append(checks, r.overloaded(Check{
		Name: "polylink loses no more than the better link alone (within sampling noise)",
		OK:   float64(p.Lost) <= float64(better)+slack(float64(better)),
		Detail: fmt.Sprintf("polylink lost %d of %d, %s %d, %s %d",
			p.Lost, p.Sent, l0.Name, l0.Lost, l1.Name, l1.Lost),
	}))
	checks = append(checks, r.overloaded(Check{
		Name: "loss at the limit of duplication (≤ 2 × p0 × p1, outside cuts and recoveries)",
		OK:   float64(lost) <= 2*expect+slack(expect),
		Detail: fmt.Sprintf("polylink %.3f %% vs links %.2f %% × %.2f %% = %.3f %%",
			100*ratio(lost, n), 100*p0, 100*p1, 100*p0*p1),
	}))
	for k, w := range p.Windows {
		if !strings.HasSuffix(w.Label, " cut") {
			continue
		}
		surv := survivor(r, w.Label)
		if surv == nil || k >= len(surv.Windows) {
			continue
		}
		sw := surv.Windows[k]
		allowed := float64(sw.Lost)
		if sw.Lost > 0 {
			allowed += diffSlack(float64(sw.Lost))
		}
		checks = append(checks, r.overloaded(Check{
			Name: fmt.Sprintf("during the %s, loss no worse than %s's own (within sampling noise)", w.Label, strings.TrimSuffix(surv.Name, " alone")),
			OK:   float64(w.Lost) <= allowed,
			Detail: fmt.Sprintf("polylink lost %d of %d, %s lost %d of %d",
				w.Lost, w.Sent, surv.Name, sw.Lost, sw.Sent),
		}), r.gapCheck(w, sw, surv.Name))
	}
	if r.Scenario.Expect != nil {
		// Its own bounds say what it is about; a long cut puts the
		// median on the slower link.
		return checks
	}
	fast, slow := min(l0.Latency.P50, l1.Latency.P50), max(l0.Latency.P50, l1.Latency.P50)
	fastest := l0
	if l1.Latency.P50 < l0.Latency.P50 {
		fastest = l1
	}
	added, nSlices := r.addedP50(p, fastest)
	c := Check{
		Name: "p50 latency within 1 ms of the faster link while it is up",
		OK:   added <= 1,
		Detail: fmt.Sprintf("polylink %+.2f ms over %s (median over %d slices outside cuts and recoveries); over the whole stream polylink %.2f ms, faster link %.2f ms",
			added, fastest.Name, nSlices, p.Latency.P50, fast),
	}
	// The daemons are processes on this machine too: a loaded one runs
	// them late, which adds to polylink's latency and not to a bare
	// link's. A missed 1 ms on an overloaded machine says nothing of
	// polylink, as long as the first copy still won on the faster link:
	// the median nearer the faster link than the slower, or the receiving
	// daemon's first copies mostly from the faster link's NIC (a daemon
	// run late delays every copy alike, not which one wins).
	fi := 0
	if l1.Latency.P50 < l0.Latency.P50 {
		fi = 1
	}
	c.Detail += fmt.Sprintf(" (first copies taken on its NIC %d, on the slower's %d)", r.firstWins(fi), r.firstWins(1-fi))
	if p.Latency.P50-fast < (slow-fast)/2 || r.firstWins(fi) > r.firstWins(1-fi) {
		c = r.overloaded(c)
	}
	return append(checks, c)
}

// maxCutGap bounds the longest run of packets polylink may lose in a row
// while a link is cut, in stream time: a failover, which polylink does
// not need, would take at least the 300 ms dead interval.
const maxCutGap = 100 * time.Millisecond

// gapCheck: while a link is cut, polylink's stream has no gap: its longest
// run of lost packets is no longer than maxCutGap (the cut link alone
// loses every packet of the cut in one run).
func (r *Run) gapCheck(w, sw stream.WindowResult, survivor string) Check {
	perPacket := time.Duration(float64(time.Millisecond) * (w.ToMS - w.FromMS) / float64(max(w.Sent, 1)))
	gap := time.Duration(w.LongestLossBurst) * perPacket
	return r.overloaded(Check{
		Name: fmt.Sprintf("no gap at the %s (longest run of lost packets under %v)", w.Label, maxCutGap),
		OK:   gap < maxCutGap,
		Detail: fmt.Sprintf("polylink lost at most %d in a row (%v), %s %d",
			w.LongestLossBurst, gap.Round(time.Millisecond), survivor, sw.LongestLossBurst),
	})
}

// bare returns the stream over bare link i alone, nil if none ran.
func (r *Run) bare(i int) *stream.Result { return r.Result(r.Scenario.bareName(i)) }

// firstWins counts the first copies the receiving daemon took over network
// n: on its NIC of it (route direct: VM1's end of net0 or net1), or on
// route nat on the paths through that uplink's NAT.
func (r *Run) firstWins(n int) uint64 {
	var wins uint64
	if r.Receiver == nil {
		return 0
	}
	for _, h := range r.Receiver.Hosts {
		for _, c := range h.Connections {
			if (r.Scenario.Route == RouteNAT && natUplinkOf(c.RemoteAddr) == n) ||
				(r.Scenario.Route != RouteNAT && c.Local == Nets[n].Right.Dev) {
				wins += c.FirstWins
			}
		}
	}
	return wins
}

// duplicatesCheck: no duplicate reaches the application. A copy more than
// dedup.Expiry (500 ms) behind the first is delivered by design (the
// bufferbloat scenario's limit); a machine that stalls processes for that
// long makes such copies. So duplicates are excused, as inconclusive, only
// on an overloaded machine and only as many as the receiving daemon
// recognised as late; any other is a failure.
func (r *Run) duplicatesCheck(p *stream.Result) Check {
	var late uint64
	if r.Receiver != nil {
		late = r.Receiver.Counters.LateDuplicates
	}
	c := Check{
		Name:   "no duplicate reaches the application",
		OK:     p.Duplicates == 0,
		Detail: fmt.Sprintf("%d duplicates of %d packets (the receiving daemon recognised %d late copies, over 500 ms behind the first)", p.Duplicates, p.Sent, late),
	}
	if p.Duplicates <= late {
		c = r.overloaded(c)
	}
	return c
}

// machineLateMs is how late this machine ran the run's processes (p99,
// ms): the emulators' forwarding and the polylink stream's sender, which
// measures its own lateness against its schedule.
func (r *Run) machineLateMs() float64 {
	late := r.emulatorLateP99Ms()
	if p := r.Result("polylink"); p != nil {
		late = max(late, p.Pacing.P99US/1e3)
	}
	return late
}

// overloaded marks a failed latency or loss check inconclusive when the
// machine ran the run's processes later than overloadedLateMs: daemons and
// emulators that are not scheduled forward late and overflow their
// queues, which no tunnel can undo. On a machine that kept time the check
// stands.
func (r *Run) overloaded(c Check) Check {
	if late := r.machineLateMs(); !c.OK && late > overloadedLateMs {
		c.Inconclusive = true
		c.Detail += fmt.Sprintf("; the machine ran processes late by up to %.1f ms (p99): overloaded (over %d ms), run it again on a quieter one",
			late, overloadedLateMs)
	}
	return c
}

// survivor is the bare link that stayed up during a cut window labelled
// "netN cut" (the other of link 0 and link 1).
func survivor(r *Run, label string) *stream.Result {
	switch {
	case strings.HasPrefix(label, r.Scenario.netName(0)+" "):
		return r.bare(1)
	case strings.HasPrefix(label, r.Scenario.netName(1)+" "):
		return r.bare(0)
	}
	return nil
}
