package stream

import (
	"testing"
	"time"
)

func TestMeasureRunsFlowsTogether(t *testing.T) {
	profile := AudioProfile(1000, 100, 200*time.Millisecond)
	clean, lossy := newPipe(), newPipe()
	lossy.drop = func(seq uint64) bool { return seq >= 50 && seq < 60 }
	lossy.dup = func(seq uint64) bool { return seq == 100 }
	start := Now() + int64(10*time.Millisecond) // one time axis for both
	var flows []Flow
	for i, path := range []*pipe{clean, lossy} {
		id := uint32(i + 1)
		s, err := NewSender(path, SenderConfig{StreamID: id, Profile: profile, Start: start})
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReceiver(path, ReceiverConfig{StreamID: id, Profile: profile})
		if err != nil {
			t.Fatal(err)
		}
		flows = append(flows, Flow{Name: []string{"clean", "lossy"}[i], Sender: s, Receiver: r})
	}
	results, err := Measure(t.Context(), flows, Options{
		Drain:   50 * time.Millisecond,
		Windows: []Window{WindowSince("drop", start, start+int64(50*time.Millisecond), start+int64(60*time.Millisecond))},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, l := results[0], results[1]
	if c.Name != "clean" || c.Sent != 200 || c.Received != 200 || c.Lost != 0 || c.Windows[0].Lost != 0 {
		t.Errorf("clean: %+v", c)
	}
	if l.Sent != 200 || l.Lost != 10 || l.LongestLossBurst != 10 || l.Duplicates != 1 ||
		l.Windows[0].Sent != 10 || l.Windows[0].LossRatio != 1 {
		t.Errorf("lossy: sent %d lost %d burst %d dups %d window %+v", l.Sent, l.Lost, l.LongestLossBurst, l.Duplicates, l.Windows[0])
	}
}
