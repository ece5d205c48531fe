package aggregator

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestEventsAreLoggedOffThePacketPath(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	evs := []struct {
		ev    event
		msg   string
		level zapcore.Level
	}{
		{event{kind: evPathUp, link: "eth0", remote: ep(nicB0), host: vipB}, "path up", zapcore.InfoLevel},
		{event{kind: evPathDown, link: "eth0", remote: ep(nicB0), host: vipB, d: time.Second}, "path down", zapcore.InfoLevel},
		{event{kind: evHostJoined, host: vipB, remote: ep(nicB0), gateway: true}, "host joined", zapcore.InfoLevel},
		{event{kind: evHostLeft, host: vipB, why: "test"}, "host left", zapcore.InfoLevel},
		{event{kind: evPeerRestarted, host: vipB}, "peer restarted", zapcore.InfoLevel},
		{event{kind: evRemoteForgotten, host: vipB, rindex: 20, remote: ep(nicB0)}, "remote NIC forgotten", zapcore.InfoLevel},
		{event{kind: evIDLimit, host: vipB, rate: 13000}, "bundle near the 13-bit ID window: copies skewed by more than max_skew_ms will be taken for new packets", zapcore.WarnLevel},
		{event{kind: evLinkAdded, link: "eth0", index: 10, remote: ep(nicB0)}, "link added", zapcore.DebugLevel},
		{event{kind: evLinkRemoved, link: "eth0", index: 10}, "link removed", zapcore.DebugLevel},
	}
	e, err := New(Config{VIP: vipA, Logger: zap.New(core), ProbeInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, c := range evs {
		e.note(c.ev)
	}
	waitFor(t, "every event logged", 2*time.Second, func() bool { return logs.Len() == len(evs) })
	for i, entry := range logs.All() {
		if entry.Message != evs[i].msg || entry.Level != evs[i].level {
			t.Errorf("event %d logged %q at %v, want %q at %v", i, entry.Message, entry.Level, evs[i].msg, evs[i].level)
		}
	}

	// With nothing to log to (the default), events are not even queued.
	quiet, err := New(Config{VIP: vipA, ProbeInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { quiet.Close() })
	for range 2 * logQueueLen {
		quiet.note(evs[0].ev)
	}
	if len(quiet.logq) != 0 || quiet.Status().Counters.LogEventsDropped != 0 {
		t.Fatal("a no-op logger's events were queued")
	}
}

func TestFullLogQueueDropsAndCounts(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(w), zapcore.DebugLevel))
	e, err := New(Config{VIP: vipA, Logger: log, ProbeInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(w.release) })
	t.Cleanup(func() { e.Close() })
	e.note(event{kind: evPeerRestarted, host: vipB})
	waitFor(t, "the writer stuck", 2*time.Second, func() bool { return w.calls.Load() == 1 })
	for range logQueueLen + 10 {
		e.note(event{kind: evPeerRestarted, host: vipB})
	}
	if n := e.Status().Counters.LogEventsDropped; n != 10 {
		t.Fatalf("%d events dropped, want the 10 past the queue's %d", n, logQueueLen)
	}
}
