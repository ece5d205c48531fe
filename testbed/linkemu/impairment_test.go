package linkemu

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestImpairmentJSONUsesDurationStrings(t *testing.T) {
	imp := Impairment{
		Delay: 20 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.1,
		GE:      &GilbertElliott{PGoodBad: 0.01, PBadGood: 0.3, LossBad: 1},
		RateBps: 2_000_000, QueueLimit: 50 * time.Millisecond,
		Outages: []Outage{{From: time.Second, To: 2 * time.Second, Every: 10 * time.Second}},
	}
	b, err := json.Marshal(imp)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"delay":"20ms"`, `"from":"1s"`, `"every":"10s"`, `"queue_limit":"50ms"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var back Impairment
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, imp) {
		t.Errorf("round trip: %+v, want %+v", back, imp)
	}
	if err := json.Unmarshal([]byte(`{"delay":1000000,"outages":[{"from":"1s","to":"1.5s"}]}`), &back); err != nil {
		t.Fatal(err)
	}
	if back.Delay != time.Millisecond || back.Outages[0].To != 1500*time.Millisecond {
		t.Errorf("numbers as nanoseconds: %+v", back)
	}
	if err := json.Unmarshal([]byte(`{"delay":"soon"}`), &back); err == nil {
		t.Error("bad duration accepted")
	}
}

func TestImpairmentValidate(t *testing.T) {
	for i, c := range []struct {
		imp Impairment
		ok  bool
	}{
		{Impairment{}, true},
		{Impairment{Delay: time.Millisecond, Loss: 1}, true},
		{Impairment{Loss: 1.5}, false},
		{Impairment{Delay: -1}, false},
		{Impairment{GE: &GilbertElliott{PGoodBad: -0.1}}, false},
		{Impairment{RateBps: -5}, false},
		{Impairment{Outages: []Outage{{From: 2 * time.Second, To: time.Second}}}, false},
		{Impairment{Outages: []Outage{{From: 0, To: time.Second, Every: 500 * time.Millisecond}}}, false},
	} {
		if err := c.imp.Validate(); (err == nil) != c.ok {
			t.Errorf("case %d: Validate() = %v, want ok=%v", i, err, c.ok)
		}
	}
}
