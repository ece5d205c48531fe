package dedup

import (
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

// step is one copy arriving: its ID, when, and the verdict expected.
type step struct {
	id   uint16
	at   int64
	want Verdict
}

// run feeds steps to w in order, reporting the first verdict that differs.
func run(t *testing.T, vector int, w *Window, steps []step) {
	t.Helper()
	for i, s := range steps {
		if got := w.Check(s.id, s.at); got != s.want {
			t.Errorf("vector %d step %d: Check(%d, %v) = %v, want %v",
				vector, i, s.id, time.Duration(s.at), got, s.want)
			return
		}
	}
}

func TestWindowRules(t *testing.T) {
	vectors := [][]step{
		// 0: a never-used slot is not "recent" at time 0...
		{{5, 0, Accepted}, {5, 0, Duplicate}},
		// 1: ...nor at a small time.
		{{5, 100 * ms, Accepted}, {6, 100 * ms, Accepted}},
		// 2: duplicate up to +499 ms, accepted again at exactly +500 ms.
		{{7, 0, Accepted}, {7, 499 * ms, Duplicate}, {7, 500*ms - 1, Duplicate}, {7, 500 * ms, Accepted}},
		// 3: a re-acceptance restarts the expiry from its own time.
		{{7, 0, Accepted}, {7, 600 * ms, Accepted}, {7, 1000 * ms, Duplicate}, {7, 1100 * ms, Accepted}},
		// 4: a duplicate does not extend the expiry.
		{{9, 0, Accepted}, {9, 400 * ms, Duplicate}, {9, 500 * ms, Accepted}},
		// 5: the 13-bit ID wraps: 8190, 8191, 0, 1 are four packets.
		{{8190, 0, Accepted}, {8191, 1, Accepted}, {0, 2, Accepted}, {1, 3, Accepted},
			{8190, 4, Duplicate}, {8191, 5, Duplicate}, {0, 6, Duplicate}, {1, 7, Duplicate}},
		// 6: IDs are taken mod WindowSize, so out-of-range input cannot index past the window.
		{{3, 0, Accepted}, {WindowSize + 3, ms, Duplicate}, {0xFFFF, ms, Accepted}, {8191, ms, Duplicate}},
		// 7: a negative clock (any monotonic origin) works the same.
		{{1, -10 * int64(time.Second), Accepted}, {1, -10*int64(time.Second) + 499*ms, Duplicate},
			{1, -10*int64(time.Second) + 500*ms, Accepted}},
		// 8: distinct IDs do not interfere.
		{{10, 0, Accepted}, {11, 0, Accepted}, {12, 0, Accepted}, {11, ms, Duplicate}, {13, ms, Accepted}},
	}
	for i, steps := range vectors {
		var w Window
		run(t, i, &w, steps)
	}
}

func TestWindowReset(t *testing.T) {
	var w Window
	run(t, 0, &w, []step{{42, 0, Accepted}, {43, 0, Accepted}, {42, ms, Duplicate}})
	w.Reset()
	run(t, 1, &w, []step{{42, 2 * ms, Accepted}, {43, 2 * ms, Accepted}, {42, 3 * ms, Duplicate}})

	// Reset also forgets the newest ID: the old run's IDs cannot make a
	// re-acceptance look late.
	var late Window
	run(t, 2, &late, []step{{100, 0, Accepted}, {200, 0, Accepted}})
	late.Reset()
	run(t, 3, &late, []step{{100, 600 * ms, Accepted}})
}

// TestWindowLate: Wi-Fi delivers IDs 100..110 a millisecond apart, then
// copies come in over a slower path.
func TestWindowLate(t *testing.T) {
	wifi := make([]step, 0, 11)
	for id := uint16(100); id <= 110; id++ {
		wifi = append(wifi, step{id, int64(id-100) * ms, Accepted})
	}
	vectors := []struct {
		before []step // extra steps before the Wi-Fi burst
		after  []step
	}{
		// 0: LTE 600 ms behind: late, counted; a third path's copy right after is a duplicate.
		{nil, []step{{105, 605 * ms, AcceptedLate}, {105, 606 * ms, Duplicate}}},
		// 1: skew exactly LateHorizon is still recognised...
		{nil, []step{{105, 5*ms + int64(LateHorizon), AcceptedLate}}},
		// 2: ...one nanosecond more is not.
		{nil, []step{{105, 5*ms + int64(LateHorizon) + 1, Accepted}}},
		// 3: a late copy of the newest ID itself is not behind it: not recognised.
		{nil, []step{{110, 610 * ms, Accepted}}},
		// 4: a late copy of the oldest of the burst, 10 behind the newest.
		{nil, []step{{100, 500 * ms, AcceptedLate}}},
		// 5: an ID half the space or more behind the newest is not behind it.
		{[]step{{110 - WindowSize/2 + WindowSize, 0, Accepted}},
			[]step{{110 - WindowSize/2 + WindowSize, 600 * ms, Accepted}}},
		// 6: one ID less than half the space behind is.
		{[]step{{110 - WindowSize/2 + 1 + WindowSize, 0, Accepted}},
			[]step{{110 - WindowSize/2 + 1 + WindowSize, 600 * ms, AcceptedLate}}},
		// 7: an ID behind the newest but never seen is a new packet.
		{nil, []step{{50, 600 * ms, Accepted}}},
		// 8: within Expiry it is a duplicate, not late.
		{nil, []step{{105, 504 * ms, Duplicate}}},
	}
	for i, v := range vectors {
		var w Window
		run(t, i, &w, v.before)
		run(t, i, &w, wifi)
		run(t, i, &w, v.after)
	}
}

// stream feeds IDs first..last-1 (mod WindowSize) to w at interval apart
// starting at start, skipping one, and fails on any verdict but Accepted. It
// returns the time of the next slot.
func stream(t *testing.T, w *Window, first, last int, skip int, start, interval int64) int64 {
	t.Helper()
	now := start
	for i := first; i < last; i++ {
		if i != skip {
			if v := w.Check(uint16(i%WindowSize), now); v != Accepted {
				t.Fatalf("packet %d (ID %d) at %v: %v, want accepted", i, i%WindowSize, time.Duration(now), v)
			}
		}
		now += interval
	}
	return now
}

// TestWindowReorderAtHighRateIsNotLate: at 2,000 packet/s a pass over the
// 8192 IDs takes 4.1 s, inside LateHorizon, so a new packet delivered out of
// order by the slow path finds its slot used 4.1 s ago and behind the
// newest ID. It must not count as late; a real late copy must.
func TestWindowReorderAtHighRateIsNotLate(t *testing.T) {
	const interval = int64(time.Second) / 2000
	var w Window
	lost := WindowSize + 100 // ID 100 of the second pass, lost on the fast path
	now := stream(t, &w, 0, WindowSize+200, lost, 0, interval)

	if got := w.Check(100, int64(lost)*interval+80*ms); got != Accepted {
		t.Errorf("reordered new packet 80 ms late: %v, want accepted", got)
	}
	if got := w.Check(150, now+600*ms); got != AcceptedLate {
		t.Errorf("copy of ID 150 about 600 ms late: %v, want accepted-late", got)
	}
}

// TestWindowRateLimit shows where the 13-bit ID stops telling packets
// apart. The seed's rule alone drops every packet beyond 16,384 packet/s
// (8192 IDs per Expiry); with "ahead of the newest ID is new", a sender may
// go faster as long as rate × path skew stays under WindowSize/2 packets.
func TestWindowRateLimit(t *testing.T) {
	const fast = 20_000 // ns between packets: 50,000 packet/s
	cases := []struct {
		interval int64 // between packets, ns
		n        int   // packets streamed (IDs 0..n-1 mod 8192), all accepted
		id       uint16
		lag      int64 // the probe copy arrives this long after the last packet
		want     Verdict
	}{
		// 0: 16,393 packet/s: ID 0 comes round again after 499.7 ms; it is
		// ahead of the newest ID (8191), so it is a new packet.
		{61_000, WindowSize, 0, 0, Accepted},
		// 1: 50,000 packet/s, three passes over the IDs in 492 ms: all new.
		{fast, 3 * WindowSize, 0, 0, Accepted},
		// 2: at 50,000 packet/s a copy 10 IDs (200 µs) behind is a duplicate.
		{fast, 3 * WindowSize, WindowSize - 1 - 10, 0, Duplicate},
		// 3: a copy 4095 IDs (82 ms) behind: still a duplicate.
		{fast, 3 * WindowSize, WindowSize - 1 - 4095, 0, Duplicate},
		// 4: the skew limit: 4097 IDs behind looks ahead of the newest ID,
		// so the late copy is taken for a new packet.
		{fast, 3 * WindowSize, WindowSize - 1 - 4097, 0, Accepted},
		// 5: below 8,192 packet/s the seed's rule holds exactly: 8,000
		// packet/s, a copy 4095 IDs (512 ms) behind, slot stamped 512 ms ago.
		{125_000, WindowSize, WindowSize - 1 - 4095, 0, AcceptedLate},
		// 6: …and 4000 IDs (500 ms) behind, stamped 499.9 ms ago: duplicate.
		{125_000, WindowSize, WindowSize - 1 - 4000, -125_000, Duplicate},
	}
	for i, c := range cases {
		var w Window
		now := stream(t, &w, 0, c.n, -1, 0, c.interval) - c.interval + c.lag
		if c.id == 0 {
			now += c.interval
		}
		if got := w.Check(c.id, now); got != c.want {
			t.Errorf("case %d: ID %d at %v: %v, want %v", i, c.id, time.Duration(now), got, c.want)
		}
	}
}

// TestAdvanceNewest pins how the newest ID moves, which the late heuristic
// depends on.
func TestAdvanceNewest(t *testing.T) {
	sec := int64(time.Second)
	cases := []struct {
		start, id  uint16
		startAt    int64
		at         int64
		wantNewest uint16
	}{
		0: {100, 101, 0, ms, 101},                        // one ahead
		1: {100, 100 + WindowSize/2 - 1, 0, ms, 4195},    // furthest ahead
		2: {100, 100 + WindowSize/2, 0, ms, 100},         // half the space: behind, not ahead
		3: {100, 99, 0, ms, 100},                         // behind
		4: {8191, 0, 0, ms, 0},                           // ahead across the wrap
		5: {100, 99, 0, 5*sec + 1, 99},                   // stale newest: replaced
		6: {100, 100 + WindowSize/2, 0, 5 * sec, 100},    // not yet stale
		7: {100, 100 + WindowSize/2, 0, 5*sec + 1, 4196}, // a jump of half the space after a long outage
	}
	for i, c := range cases {
		var w Window
		w.advanceNewest(c.start, c.startAt)
		w.advanceNewest(c.id, c.at)
		if w.newest != c.wantNewest {
			t.Errorf("case %d: newest = %d, want %d", i, w.newest, c.wantNewest)
		}
	}
}

func TestVerdictString(t *testing.T) {
	cases := []struct {
		v    Verdict
		want string
	}{
		0: {Accepted, "accepted"},
		1: {Duplicate, "duplicate"},
		2: {AcceptedLate, "accepted-late"},
		3: {9, "verdict(9)"},
	}
	for i, c := range cases {
		if got := c.v.String(); got != c.want {
			t.Errorf("case %d: %q, want %q", i, got, c.want)
		}
	}
}

func TestWindowCheckAllocs(t *testing.T) {
	var w Window
	var i int64
	n := testing.AllocsPerRun(1000, func() {
		i++
		w.Check(uint16(i), i*ms)
	})
	if n != 0 {
		t.Errorf("Window.Check allocates %v times per call, want 0", n)
	}
}
