package testbed_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	tbstream "github.com/polylink/polylink/testbed/stream"
)

func TestBuiltinScenariosAreValid(t *testing.T) {
	for _, name := range testbed.BuiltinNames() {
		if _, err := testbed.LoadScenario(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := testbed.LoadScenario("nope"); err == nil || !strings.Contains(err.Error(), "demo") {
		t.Errorf("unknown scenario: %v, want an error listing the built-in ones", err)
	}
}

func TestScenarioJSONRoundTrip(t *testing.T) {
	lab := testbed.Builtin()["lab"]
	b, err := json.Marshal(lab)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"at":"5s"`) || !strings.Contains(string(b), `"delay":"20ms"`) {
		t.Fatalf("durations should read as strings: %s", b)
	}
	path := filepath.Join(t.TempDir(), "mine.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := testbed.LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Links[0].AB.Delay != 20*time.Millisecond || len(got.Events) != 2 || got.Traffic != lab.Traffic {
		t.Fatalf("round trip changed the scenario: %+v", got)
	}
}

func TestScenarioValidate(t *testing.T) {
	for i, c := range []struct {
		edit func(*testbed.Scenario)
		want string
	}{
		{func(s *testbed.Scenario) { s.Route = "sideways" }, "route"},
		{func(s *testbed.Scenario) { s.Events[0].Net = 7 }, "net 7"},
		{func(s *testbed.Scenario) { s.Events[0].Action = "explode" }, "action"},
		{func(s *testbed.Scenario) { s.Events[0].Action = "impair" }, "needs an impairment"},
		{func(s *testbed.Scenario) { s.Events[0].At = 1e12 }, "outside"},
		{func(s *testbed.Scenario) { s.Events[0].Action = "readdress" }, "needs route"},
		{func(s *testbed.Scenario) { s.Route = testbed.RouteNAT; s.Events[0].Net = 2 }, "net 2: want 0 to 1"},
	} {
		s := testbed.Builtin()["lab"]
		s.Events = append([]testbed.Event(nil), s.Events...)
		c.edit(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: %v, want an error about %q", i, err, c.want)
		}
	}
}

func TestScenarioCuts(t *testing.T) {
	s := testbed.Builtin()["router"]
	cuts := s.Cuts()
	if len(cuts) != 8 || cuts[0].Label != "net0 cut" || cuts[0].From != time.Second || cuts[0].To != 2*time.Second ||
		cuts[1].Label != "net0 back" || cuts[1].To != 3*time.Second || cuts[6].Label != "net3 cut" {
		t.Fatalf("cuts = %+v", cuts)
	}
	s.Events = s.Events[:1] // a cut never restored lasts to the end
	if c := s.Cuts(); len(c) != 1 || c[0].To != s.Traffic.Duration {
		t.Fatalf("open cut = %+v", c)
	}
}

// result builds a stream result with the given totals and one window.
func result(name string, sent, lost, wSent, wLost uint64, p50 float64) tbstream.Result {
	return tbstream.Result{Name: name, Sent: sent, Lost: lost, LossRatio: float64(lost) / float64(sent),
		Latency: tbstream.Latency{P50: p50},
		Windows: []tbstream.WindowResult{{Label: "net0 cut", FromMS: 5000, ToMS: 8000, Sent: wSent, Lost: wLost}}}
}

func TestChecks(t *testing.T) {
	good := &testbed.Run{Results: []tbstream.Result{
		result("link 0", 10000, 3500, 3000, 3000, 20),   // 500 of 7000 outside the cut: 7.1 %
		result("link 1", 10000, 500, 3000, 150, 45),     // 350 of 7000: 5 %
		result("polylink", 10000, 175, 3000, 150, 20.3), // 25 of 7000 (0.25 % ≈ 7.1 % × 5 %)
	}}
	for _, c := range good.Checks() {
		if !c.OK {
			t.Errorf("good run fails %q: %s", c.Name, c.Detail)
		}
	}
	bad := &testbed.Run{Results: []tbstream.Result{
		result("link 0", 10000, 3500, 3000, 3000, 20),
		result("link 1", 10000, 500, 3000, 150, 45),
		result("polylink", 10000, 600, 3000, 400, 22),
	}}
	bad.Results[2].Duplicates = 1
	bad.Results[2].Windows[0].LongestLossBurst = 300 // 300 ms of 1000 packet/s in a row
	failed := map[string]bool{}
	for _, c := range bad.Checks() {
		if !c.OK {
			failed[strings.Fields(c.Name)[0]] = true
			failed[strings.Join(strings.Fields(c.Name)[:2], " ")] = true
		}
	}
	for _, want := range []string{"no duplicate", "no gap", "polylink loses", "loss", "during", "p50"} {
		if !failed[want] {
			t.Errorf("bad run should fail the %q check; failed: %v", want, failed)
		}
	}
}
