package testbed

import (
	"fmt"
	"strings"
	"time"

	"github.com/polylink/polylink/testbed/linkemu"
	"github.com/polylink/polylink/testbed/stream"
)

// Span is a stretch of the stream, from its start, whose loss is reported
// apart (e.g. "one path left": a cut after polylink noticed it).
type Span struct {
	Label string           `json:"label"`
	From  linkemu.Duration `json:"from"`
	To    linkemu.Duration `json:"to"`
}

// Expect is what a scenario promises beyond DESIGN.md's "working"; a zero
// field promises nothing.
type Expect struct {
	// MaxLoss bounds the stream's loss over polylink, all of it.
	MaxLoss float64 `json:"max_loss,omitempty"`
	// MaxP99Ms bounds its 99th-percentile one-way latency.
	MaxP99Ms float64 `json:"max_p99_ms,omitempty"`
	// SpanMaxLoss bounds the loss within spans, by label.
	SpanMaxLoss map[string]float64 `json:"span_max_loss,omitempty"`
	// MinBulkMbps is the least the bulk upload must average.
	MinBulkMbps float64 `json:"min_bulk_mbps,omitempty"`
	// NoBulkOnNets are networks (indexes into Nets) that must carry no bulk
	// packet, in either direction: checked by both daemons' per-path class
	// counters and by the network's emulator, which counts every frame.
	NoBulkOnNets []int `json:"no_bulk_on_nets,omitempty"`
	// SecondCopies: "some" (VM0 sent second copies) or "none".
	SecondCopies string `json:"second_copies,omitempty"`
}

func (s *Scenario) validatePolicy() error {
	for i, sp := range s.Spans {
		if sp.Label == "" || sp.From < 0 || sp.To <= sp.From || time.Duration(sp.To) > s.Traffic.Duration {
			return fmt.Errorf("scenario %s: span %d: want a label and 0 ≤ from < to ≤ the stream's %v", s.Name, i, s.Traffic.Duration)
		}
	}
	if s.Bulk != nil && s.Route != RouteDirect {
		return fmt.Errorf("scenario %s: bulk runs on route %q only", s.Name, RouteDirect)
	}
	if e := s.Expect; e != nil {
		for _, n := range e.NoBulkOnNets {
			if n < 0 || n > 1 {
				return fmt.Errorf("scenario %s: no_bulk_on_nets: %d: want 0 or 1 (VM0's networks)", s.Name, n)
			}
		}
		if e.SecondCopies != "" && e.SecondCopies != "some" && e.SecondCopies != "none" {
			return fmt.Errorf("scenario %s: second_copies %q: want some or none", s.Name, e.SecondCopies)
		}
	}
	return nil
}

// withPolicyScenarios adds the scenarios of "redundancy where it counts".
func withPolicyScenarios(m map[string]Scenario) map[string]Scenario {
	ms := time.Millisecond
	wifi := linkemu.Impairment{Delay: 20 * ms, Jitter: 1 * ms, RateBps: 10_000_000}
	lte := linkemu.Impairment{Delay: 45 * ms, Jitter: 2 * ms, RateBps: 2_500_000}
	clean := linkemu.Impairment{Delay: 5 * ms}
	// 1.5 Mbit/s of video: 30 frames/s of 5 packets of 1250 bytes.
	video := func(d time.Duration) stream.Profile { return stream.VideoProfile(30, 5, 1250, d) }
	m["metered"] = Scenario{
		Name: "metered",
		Description: "a robot uploads a file (TCP, iperf3) while it streams 1.5 Mbit/s of video; Wi-Fi-like link 0 " +
			"(10 Mbit/s, 20 ms) cut for 3 s; LTE-like link 1 (2.5 Mbit/s, 45 ms) marked --metered: the upload stays off LTE",
		Links:      [4]linkemu.Config{both(wifi), both(lte), both(clean), both(clean)},
		Traffic:    video(30 * time.Second),
		DaemonArgs: [3][]string{{"--metered", Nets[1].Left.Dev}},
		Bulk:       &BulkTraffic{},
		NoBare:     true,
		Events: []Event{
			{At: linkemu.Duration(10 * time.Second), Net: 0, Action: "cut"},
			{At: linkemu.Duration(13 * time.Second), Net: 0, Action: "restore"},
		},
		Expect: &Expect{MaxLoss: 0.002, MaxP99Ms: 100, MinBulkMbps: 5, NoBulkOnNets: []int{1}},
		Seed:   5,
	}
	m["bulk"] = Scenario{
		Name: "bulk",
		Description: "the same upload and video with no link marked metered and no cut: the upload takes the best " +
			"path (link 0) alone, never copied onto link 1",
		Links:   [4]linkemu.Config{both(wifi), both(lte), both(clean), both(clean)},
		Traffic: video(15 * time.Second),
		Bulk:    &BulkTraffic{},
		NoBare:  true,
		Expect:  &Expect{MaxLoss: 0.002, MaxP99Ms: 100, MinBulkMbps: 5, NoBulkOnNets: []int{1}},
		Seed:    6,
	}
	lossy := func(d time.Duration) linkemu.Impairment { return linkemu.Impairment{Delay: d, Loss: 0.02} }
	onePath := Scenario{
		Name: "one-path",
		Description: "both links lose 2 % at random; link 0 is cut for 10 s: with one path left, real-time packets " +
			"get a second copy 20-40 ms later on it",
		Links:   [4]linkemu.Config{both(lossy(20 * ms)), both(lossy(45 * ms)), both(clean), both(clean)},
		Traffic: stream.AudioProfile(1000, 200, 24*time.Second),
		Events: []Event{
			{At: linkemu.Duration(4 * time.Second), Net: 0, Action: "cut"},
			{At: linkemu.Duration(14 * time.Second), Net: 0, Action: "restore"},
		},
		// From a second into the cut: polylink needs its dead interval
		// (300 ms) to see the path gone before it adds second copies.
		Spans:  []Span{{Label: "one path left", From: linkemu.Duration(5 * time.Second), To: linkemu.Duration(14 * time.Second)}},
		Expect: &Expect{SpanMaxLoss: map[string]float64{"one path left": 0.001}, SecondCopies: "some"},
		// The scenario measures what a second copy buys on a lossy path,
		// so the sender sends them from the first packet after the cut
		// (--second-copy always). With auto they also wait for the
		// surviving path's first lost probe, which at 100 ms probes a 2 %
		// link had not lost in its first 4 s in about one run in five:
		// copies then began seconds into the cut (0.47 and 0.63 % lost in
		// the span instead of < 0.1 %). A deployed daemon has minutes of
		// history; the holds are the metered scenario's subject.
		DaemonArgs: [3][]string{{"--second-copy", "always"}},
		Seed:       7,
	}
	m[onePath.Name] = onePath
	seed := onePath
	seed.Name = "one-path-copy-all"
	seed.Description = "one-path with --redundancy all (the seed's copy-everything): no second copy, so the surviving link's own 2 % loss shows"
	seed.DaemonArgs = [3][]string{{"--redundancy", "all"}, {"--redundancy", "all"}}
	seed.Expect = &Expect{SecondCopies: "none"}
	seed.Seed = 8
	m[seed.Name] = seed
	return m
}

// expectChecks holds the run to its scenario's Expect.
func (r *Run) expectChecks() []Check {
	e := r.Scenario.Expect
	p := r.Result("polylink")
	if e == nil || p == nil {
		return nil
	}
	var cs []Check
	if e.MaxLoss > 0 {
		cs = append(cs, r.overloaded(Check{Name: fmt.Sprintf("stream loss ≤ %.2f %% across the run", 100*e.MaxLoss), OK: p.LossRatio <= e.MaxLoss,
			Detail: fmt.Sprintf("lost %d of %d (%.3f %%)", p.Lost, p.Sent, 100*p.LossRatio)}))
	}
	if e.MaxP99Ms > 0 {
		// The emulators are userspace: on a loaded machine they forward
		// late, which no tunnel can undo. Their own lateness is measured:
		// past overloadedLateMs a failed bound says nothing of polylink.
		late := r.emulatorLateP99Ms()
		c := Check{Name: fmt.Sprintf("p99 one-way latency ≤ %.0f ms", e.MaxP99Ms), OK: p.Latency.P99 <= e.MaxP99Ms,
			Detail: fmt.Sprintf("p99 %.1f ms (p50 %.1f, max %.1f); the emulators forwarded late by up to %.1f ms (p99)",
				p.Latency.P99, p.Latency.P50, p.Latency.Max, late)}
		if !c.OK && late > overloadedLateMs {
			c.Inconclusive = true
			c.Detail += fmt.Sprintf(": the machine was overloaded (over %d ms), run it again on a quieter one", overloadedLateMs)
		}
		cs = append(cs, c)
	}
	for _, w := range p.Windows {
		max, ok := e.SpanMaxLoss[w.Label]
		if !ok {
			continue
		}
		d := fmt.Sprintf("polylink lost %d of %d (%.3f %%)", w.Lost, w.Sent, 100*w.LossRatio)
		if l1 := r.Result("link 1"); l1 != nil {
			for _, lw := range l1.Windows {
				if lw.Label == w.Label {
					d += fmt.Sprintf("; link 1 alone lost %d of %d (%.2f %%)", lw.Lost, lw.Sent, 100*lw.LossRatio)
				}
			}
		}
		cs = append(cs, r.overloaded(Check{Name: fmt.Sprintf("%s: loss ≤ %.2f %%", w.Label, 100*max), OK: w.LossRatio <= max, Detail: d}))
	}
	if e.MinBulkMbps > 0 {
		c := Check{Name: fmt.Sprintf("the upload averages ≥ %.0f Mbit/s", e.MinBulkMbps), Detail: "no upload result"}
		if b := r.Bulk; b != nil {
			c.OK = b.Mbps >= e.MinBulkMbps
			c.Detail = fmt.Sprintf("%.2f Mbit/s over %.0f s, %d retransmits", b.Mbps, b.Seconds, b.Retransmits)
			c = r.overloaded(c) // a throughput figure, which an overloaded machine cannot time
		}
		cs = append(cs, c)
	}
	for _, n := range e.NoBulkOnNets {
		cs = append(cs, r.noBulkCheck(n))
	}
	if e.SecondCopies != "" {
		n := uint64(0)
		for _, c := range r.SenderPaths {
			n += c.TxSecondCopies
		}
		cs = append(cs, Check{Name: "second copies: " + e.SecondCopies, OK: (n > 0) == (e.SecondCopies == "some"),
			Detail: fmt.Sprintf("VM0 sent %d second copies", n)})
	}
	return cs
}

// policySummary says where the bulk went and what second copies did.
func (r *Run) policySummary() string {
	var b strings.Builder
	if r.Bulk != nil {
		fmt.Fprintf(&b, "The TCP upload beside the stream averaged %.2f Mbit/s.", r.Bulk.Mbps)
	}
	per := map[string][2]uint64{}
	for _, p := range r.SenderPaths {
		v := per[p.Local]
		v[0] += p.TxRealtimeBytes
		v[1] += p.TxBulkBytes
		per[p.Local] = v
	}
	second := r.secondCopies()
	if r.Bulk != nil || second > 0 {
		for i := range 2 {
			dev, name := Nets[i].Left.Dev, fmt.Sprintf("%s (link %d)", Nets[i].Left.Dev, i)
			if r.Scenario.Route == RouteNAT {
				dev, name = natUplinks[i], natUplinks[i]
			}
			v := per[dev]
			fmt.Fprintf(&b, " %s carried %.1f MB of real-time copies and %.1f MB of bulk.", name, float64(v[0])/1e6, float64(v[1])/1e6)
		}
	}
	if second > 0 {
		who := "VM0"
		if r.Scenario.Route == RouteNAT {
			who = "the robot"
		}
		fmt.Fprintf(&b, " With a path down, %s sent %d second copies of real-time packets.", who, second)
	}
	if b.Len() == 0 {
		return ""
	}
	return strings.TrimPrefix(b.String(), " ") + "\n"
}

// secondCopies counts the second copies of real-time packets the sender
// sent on its last path up.
func (r *Run) secondCopies() uint64 {
	var n uint64
	for _, p := range r.SenderPaths {
		n += p.TxSecondCopies
	}
	return n
}

// overloadedLateMs: emulators forwarding this late (p99) mean the machine
// cannot time a latency bound; such checks are inconclusive, not failed.
// Measured on this 2-core machine shared with other builds (load average
// about 11): 7 to 14 ms in runs where the bound held, 61 and 398 ms in runs
// where it did not.
const overloadedLateMs = 20

// emulatorLateP99Ms is the worst p99 lateness of VM0's two networks'
// emulators toward VM1, in ms.
func (r *Run) emulatorLateP99Ms() float64 {
	var worst float64
	for i := range 2 {
		if st := r.Nets[i]; st != nil {
			worst = max(worst, float64(st.AB.Lateness.P99)/1e6)
		}
	}
	return worst
}

// noBulkCheck: no bulk packet crossed network n. Both daemons' counters
// must show no bulk on a path over it, and the emulator, which counts
// every frame, must have carried no more toward VM1 than the stream's
// copies, their second copies, and probes.
func (r *Run) noBulkCheck(n int) Check {
	c := Check{Name: fmt.Sprintf("%s carries no bulk (%s)", Nets[n].Name, Nets[n].Left.Dev)}
	var bulk, rt, second, tx uint64
	var parts []string
	for _, p := range r.SenderPaths {
		if p.Local == Nets[n].Left.Dev {
			bulk, rt, second, tx = bulk+p.TxBulkBytes, rt+p.TxRealtimeBytes, second+p.TxSecondCopies, tx+p.TxPackets
		}
	}
	var back uint64
	if r.Receiver != nil {
		for _, h := range r.Receiver.Hosts {
			for _, p := range h.Connections {
				if p.Local == Nets[n].Right.Dev {
					back += p.TxBulkBytes
				}
			}
		}
	}
	parts = append(parts, fmt.Sprintf("VM0 sent %d B bulk, %d B real-time (%d second copies) over it; VM1 sent %d B bulk back", bulk, rt, second, back))
	ok := bulk == 0 && back == 0
	if st := r.Nets[n]; st != nil {
		// Frames toward VM1: the stream's packets once each, their second
		// copies, and at most 30 control packets a second per path
		// (probes, replies, NIC info), plus a little ARP.
		p := r.Result("polylink")
		secs := r.Scenario.Traffic.Duration.Seconds() + 15 // setup and drain
		bound := float64(p.Sent+second) + 2*30*secs + 50
		parts = append(parts, fmt.Sprintf("its emulator carried %d frames toward VM1 (bound %.0f: %d stream packets, %d second copies, control)",
			st.AB.FramesIn, bound, p.Sent, second))
		ok = ok && float64(st.AB.FramesIn) <= bound
	}
	c.OK, c.Detail = ok, strings.Join(parts, "; ")
	return c
}
