package testbed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The example in docs/scenarios.md is a scenario LoadScenario accepts, with
// the meaning the document gives it.
func TestScenarioDocExampleLoads(t *testing.T) {
	doc, err := os.ReadFile("../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/scenarios.md has no ```json example")
	}
	path := filepath.Join(t.TempDir(), "wifi-lte.json")
	if err := os.WriteFile(path, []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadScenario(path)
	if err != nil {
		t.Fatalf("the documented example does not load: %v", err)
	}
	if s.Name != "wifi-lte" || s.Route != RouteDirect || s.Links[0].AB.GE == nil || s.Links[1].BA.Loss != 0.02 ||
		s.Traffic.Duration != 12*time.Second || len(s.Events) != 3 || s.Events[2].Impairment == nil ||
		time.Duration(s.Events[0].At) != 4*time.Second || time.Duration(s.Deadline) != 150*time.Millisecond {
		t.Fatalf("the documented example reads as %+v", s)
	}
}
