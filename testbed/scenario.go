package testbed

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/polylink/polylink/testbed/linkemu"
	"github.com/polylink/polylink/testbed/stream"
)

// Scenario is one testbed experiment: impairments per network, the traffic,
// events during it (a link cut and restored), and the route the stream
// takes. It reads from and writes to JSON, so users can write their own.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Route is "direct" (VM0 → VM1 over net0 and net1, with each bare link
	// measured beside polylink), "router" (VM0 → VM1 → VM2 over all four
	// nets, polylink only: the bare nets do not join VM0 to VM2) or "nat"
	// (a robot's two uplinks, net0 and net1, each behind a strict NAT, to a
	// --router server over UDP, keyed; scenario_nat.go).
	Route string `json:"route"`
	// Links are the emulators' settings, indexed like Nets.
	Links [len(Nets)]linkemu.Config `json:"links"`
	// Traffic is the real-time stream sent from VM0.
	Traffic stream.Profile `json:"traffic"`
	// Events happen at given times after the stream starts.
	Events []Event `json:"events,omitempty"`
	// Deadline is the playout deadline: later is lost (default 150 ms).
	Deadline linkemu.Duration `json:"deadline,omitempty"`
	// Seed makes the emulators' random choices reproducible.
	Seed uint64 `json:"seed"`
	// Limit marks a scenario built to show a documented limit of the
	// design: its failed checks are the point, not a regression.
	Limit string `json:"limit,omitempty"`

	// DaemonArgs are extra `polylink run` flags per host, indexed like
	// Hosts, e.g. [["--metered", "eth1"], [], []].
	DaemonArgs [len(Hosts)][]string `json:"daemon_args,omitempty"`
	// Bulk, when set, runs a TCP upload from VM0 beside the stream.
	Bulk *BulkTraffic `json:"bulk,omitempty"`
	// NoBare skips the streams over the bare links (route direct), which
	// would take a rate-limited link's capacity from polylink.
	NoBare bool `json:"no_bare,omitempty"`
	// Spans are more stretches of the stream whose loss is reported apart.
	Spans []Span `json:"spans,omitempty"`
	// Expect adds bounds the run must meet (scenario_policy.go).
	Expect *Expect `json:"expect,omitempty"`
}

// Event is one change to a network during a scenario.
type Event struct {
	At linkemu.Duration `json:"at"`
	// Net is the network's index in Nets.
	Net int `json:"net"`
	// Action is "cut" (nothing crosses, both ways), "restore", "impair"
	// (both directions take Impairment from now on) or, on route nat,
	// "readdress" (the net's NAT changes its public address).
	Action     string              `json:"action"`
	Impairment *linkemu.Impairment `json:"impairment,omitempty"`
}

// Routes a scenario can take.
const (
	RouteDirect = "direct"
	RouteRouter = "router"
)

// Validate says what is wrong with a scenario, in one line.
func (s *Scenario) Validate() error {
	if s.Route == "" {
		s.Route = RouteDirect
	}
	if s.Route != RouteDirect && s.Route != RouteRouter && s.Route != RouteNAT {
		return fmt.Errorf("scenario %s: route %q: want %q, %q or %q", s.Name, s.Route, RouteDirect, RouteRouter, RouteNAT)
	}
	nets := len(Nets)
	if s.Route == RouteNAT {
		nets = len(natUplinks)
	}
	if err := s.Traffic.Validate(); err != nil {
		return fmt.Errorf("scenario %s: traffic: %w", s.Name, err)
	}
	for i, e := range s.Events {
		if e.Net < 0 || e.Net >= nets {
			return fmt.Errorf("scenario %s: event %d: net %d: want 0 to %d", s.Name, i, e.Net, nets-1)
		}
		switch e.Action {
		case "cut", "restore":
		case "readdress":
			if s.Route != RouteNAT {
				return fmt.Errorf("scenario %s: event %d: readdress needs route %q (a NAT to re-address)", s.Name, i, RouteNAT)
			}
		case "impair":
			if e.Impairment == nil {
				return fmt.Errorf("scenario %s: event %d: impair needs an impairment", s.Name, i)
			}
		default:
			return fmt.Errorf("scenario %s: event %d: action %q: want cut, restore, impair or readdress", s.Name, i, e.Action)
		}
		if time.Duration(e.At) < 0 || time.Duration(e.At) > s.Traffic.Duration {
			return fmt.Errorf("scenario %s: event %d at %v: outside the %v stream", s.Name, i, time.Duration(e.At), s.Traffic.Duration)
		}
	}
	return s.validatePolicy()
}

// netName names net i in reports: its network (net0 …) or, on route nat,
// the robot's uplink (wlan0, wwan0).
func (s *Scenario) netName(i int) string {
	if s.Route == RouteNAT && i < len(natUplinks) {
		return natUplinks[i]
	}
	return Nets[i].Name
}

// bareName names the stream over bare link i alone: "link 0", or on route
// nat "wlan0 alone".
func (s *Scenario) bareName(i int) string {
	if s.Route == RouteNAT {
		return natUplinks[i] + " alone"
	}
	return fmt.Sprintf("link %d", i)
}

// recovery is how long after a restore a link is still counted apart: the
// hosts' ARP entries for each other failed during the cut, and Linux
// retries them once a second, so a path may carry again only up to a
// second after its link is back. Measuring it apart keeps that effect (real
// on any Ethernet or Wi-Fi link) out of the duplication-limit check.
const recovery = time.Second

// Cuts returns the scenario's outages as stream windows: each cut of a net
// until its restore (or the end of the stream), then the recovery second
// after the restore, labelled "netN back".
func (s *Scenario) Cuts() []stream.Window {
	var ws []stream.Window
	open := map[int]time.Duration{}
	for _, e := range s.Events {
		switch e.Action {
		case "cut":
			open[e.Net] = time.Duration(e.At)
		case "restore":
			if from, ok := open[e.Net]; ok {
				to := time.Duration(e.At)
				ws = append(ws, stream.Window{Label: s.netName(e.Net) + " cut", From: from, To: to},
					stream.Window{Label: s.netName(e.Net) + " back", From: to, To: min(to+recovery, s.Traffic.Duration)})
				delete(open, e.Net)
			}
		}
	}
	for n, from := range open {
		ws = append(ws, stream.Window{Label: s.netName(n) + " cut", From: from, To: s.Traffic.Duration})
	}
	for _, sp := range s.Spans {
		ws = append(ws, stream.Window{Label: sp.Label, From: time.Duration(sp.From), To: time.Duration(sp.To)})
	}
	slices.SortFunc(ws, func(a, b stream.Window) int { return int(a.From - b.From) })
	return ws
}

// both sets one impairment on both directions of a net.
func both(imp linkemu.Impairment) linkemu.Config { return linkemu.Config{AB: imp, BA: imp} }

// burstyLoss is Gilbert–Elliott loss averaging about mean, in bursts of
// four packets on average.
func burstyLoss(mean float64) *linkemu.GilbertElliott {
	const pBadGood = 0.25
	return &linkemu.GilbertElliott{PGoodBad: pBadGood * mean / (1 - mean), PBadGood: pBadGood, LossBad: 1}
}

// Builtin returns the scenarios polylink ships, by name.
func Builtin() map[string]Scenario {
	ms := time.Millisecond
	wifi := linkemu.Impairment{Delay: 20 * ms, Jitter: 1 * ms, GE: burstyLoss(0.05)}
	lte := linkemu.Impairment{Delay: 45 * ms, Jitter: 5 * ms, Loss: 0.05}
	clean := linkemu.Impairment{Delay: 5 * ms}
	lteJ := linkemu.Impairment{Delay: 45 * ms, Jitter: 5 * ms, Loss: 0.02}
	return withPolicyScenarios(map[string]Scenario{
		"demo": {
			Name:  "demo",
			Route: RouteNAT,
			Description: "a robot streams 500 packet/s to a --router server over polylink (keyed, UDP) and over each uplink alone; " +
				"wlan0 Wi-Fi-like (20 ms ± 1 ms, 5 % loss in bursts), wwan0 LTE-like (45 ms ± 5 ms, 2 % loss), each behind a strict NAT " +
				"(masquerade, only TCP/UDP/ICMP); wlan0 cut for 3 s, then wwan0's NAT changes its public address",
			Links:   [4]linkemu.Config{both(wifi), both(lteJ)},
			Traffic: stream.AudioProfile(500, 200, 15*time.Second),
			Events: []Event{
				{At: linkemu.Duration(4 * time.Second), Net: 0, Action: "cut"},
				{At: linkemu.Duration(7 * time.Second), Net: 0, Action: "restore"},
				{At: linkemu.Duration(10 * time.Second), Net: 1, Action: "readdress"},
			},
			Spans: []Span{{Label: "wwan0 NAT re-addressed", From: linkemu.Duration(10 * time.Second), To: linkemu.Duration(11 * time.Second)}},
			Seed:  1,
		},
		"lab": {
			Name:        "lab",
			Description: "the seed's lab (raw IP-in-IP, no NAT): Wi-Fi-like link 0 (20 ms, 5 % loss in bursts) cut for 3 s; LTE-like link 1 (45 ms, 5 % loss)",
			Links:       [4]linkemu.Config{both(wifi), both(lte), both(clean), both(clean)},
			// While link 0 is cut, polylink rides the 45 ms link: a fifth of
			// the stream, which lifts its p50 a few tenths of a millisecond
			// above link 0's own.
			Traffic: stream.AudioProfile(1000, 200, 15*time.Second),
			Events: []Event{
				{At: linkemu.Duration(5 * time.Second), Net: 0, Action: "cut"},
				{At: linkemu.Duration(8 * time.Second), Net: 0, Action: "restore"},
			},
			Seed: 1,
		},
		"lossy": {
			Name:        "lossy",
			Description: "two lossy links, no cut: the residual loss of duplication (p0 × p1)",
			Links:       [4]linkemu.Config{both(wifi), both(lte), both(clean), both(clean)},
			Traffic:     stream.AudioProfile(1000, 200, 20*time.Second),
			Seed:        2,
		},
		"router": {
			Name:        "router",
			Description: "VM0 → router VM1 → VM2 over four links; each of them cut in turn for 1 s",
			Route:       RouteRouter,
			Links:       [4]linkemu.Config{both(clean), both(linkemu.Impairment{Delay: 15 * ms}), both(clean), both(linkemu.Impairment{Delay: 15 * ms})},
			Traffic:     stream.AudioProfile(500, 200, 10*time.Second),
			Events: []Event{
				{At: linkemu.Duration(1 * time.Second), Net: 0, Action: "cut"},
				{At: linkemu.Duration(2 * time.Second), Net: 0, Action: "restore"},
				{At: linkemu.Duration(3 * time.Second), Net: 1, Action: "cut"},
				{At: linkemu.Duration(4 * time.Second), Net: 1, Action: "restore"},
				{At: linkemu.Duration(5 * time.Second), Net: 2, Action: "cut"},
				{At: linkemu.Duration(6 * time.Second), Net: 2, Action: "restore"},
				{At: linkemu.Duration(7 * time.Second), Net: 3, Action: "cut"},
				{At: linkemu.Duration(8 * time.Second), Net: 3, Action: "restore"},
			},
			Seed: 3,
		},
		"bufferbloat": {
			Name:        "bufferbloat",
			Description: "link 1 turns bufferbloated (600 ms) mid-stream: skew beyond the 500 ms duplicate window",
			Limit: "copies more than 500 ms behind the first are accepted again: the application sees them as duplicates; " +
				"polylink counts them (late_duplicates) and shows the path skew",
			Links:   [4]linkemu.Config{both(linkemu.Impairment{Delay: 10 * ms}), both(linkemu.Impairment{Delay: 40 * ms}), both(clean), both(clean)},
			Traffic: stream.AudioProfile(200, 200, 8*time.Second),
			Events: []Event{
				{At: linkemu.Duration(3 * time.Second), Net: 1, Action: "impair", Impairment: &linkemu.Impairment{Delay: 600 * ms}},
			},
			Seed: 4,
		},
	})
}

// BuiltinNames lists the built-in scenarios, sorted.
func BuiltinNames() []string {
	var names []string
	for n := range Builtin() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// LoadScenario returns the built-in scenario of that name, or reads a JSON
// file when the name ends in .json.
func LoadScenario(name string) (Scenario, error) {
	if strings.HasSuffix(name, ".json") {
		b, err := os.ReadFile(name)
		if err != nil {
			return Scenario{}, fmt.Errorf("scenario: %w", err)
		}
		var s Scenario
		if err := json.Unmarshal(b, &s); err != nil {
			return Scenario{}, fmt.Errorf("scenario %s: %w", name, err)
		}
		return s, s.Validate()
	}
	s, ok := Builtin()[name]
	if !ok {
		return Scenario{}, fmt.Errorf("no scenario %q: built in are %s, or give a FILE.json", name, strings.Join(BuiltinNames(), ", "))
	}
	return s, s.Validate()
}
