package stream

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

// TestReportJSONKeys pins the documented key names: scripts read them.
func TestReportJSONKeys(t *testing.T) {
	s, c := handBuilt()
	res := Analyze("hand", s, c, Options{Windows: []Window{{Label: "w", To: 1e6}}})
	res.SendErrors, res.ErrorsByReason = 1, map[string]uint64{"ENETUNREACH": 1}
	var buf bytes.Buffer
	err := Report{Title: "t", Scenario: map[string]any{"name": "cut"}, Results: []Result{res}}.WriteJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema   int              `json:"schema"`
		Title    string           `json:"title"`
		Scenario map[string]any   `json:"scenario"`
		Results  []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != ReportSchema || doc.Title != "t" || doc.Scenario["name"] != "cut" || len(doc.Results) != 1 {
		t.Fatalf("report envelope: %+v", doc)
	}
	wantKeys := []string{
		"deadline_ms", "duplicates", "jitter_ms", "late", "latency_ms", "longest_loss_burst",
		"loss_bursts", "loss_ratio", "lost", "lost_or_late", "lost_or_late_ratio", "name", "pacing",
		"profile", "received", "reordered", "send_errors", "send_errors_by_reason", "sent", "series", "windows",
	}
	if got := slices.Sorted(maps.Keys(doc.Results[0])); !slices.Equal(got, wantKeys) {
		t.Errorf("result keys = %v\nwant          %v", got, wantKeys)
	}
	sub := func(key string) []string {
		return slices.Sorted(maps.Keys(doc.Results[0][key].(map[string]any)))
	}
	for key, want := range map[string][]string{
		"latency_ms": {"max", "mean", "min", "p50", "p90", "p99", "p999"},
		"pacing":     {"max_us", "p50_us", "p99_us"},
		"profile":    {"audio", "duration_ns"},
		"series":     {"bucket_ms", "buckets"},
	} {
		if got := sub(key); !slices.Equal(got, want) {
			t.Errorf("%s keys = %v, want %v", key, got, want)
		}
	}
	window := doc.Results[0]["windows"].([]any)[0].(map[string]any)
	if got, want := slices.Sorted(maps.Keys(window)), []string{"from_ms", "label", "longest_loss_burst", "loss_ratio", "lost",
		"lost_or_late", "lost_or_late_ratio", "sent", "to_ms"}; !slices.Equal(got, want) {
		t.Errorf("window keys = %v, want %v", got, want)
	}
}
