package session

import "testing"

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	type step struct {
		c    uint64
		want replayVerdict
	}
	steps := []step{
		0: {0, replayNew},
		1: {0, replayDuplicate},
		2: {2, replayNew},
		3: {1, replayNew}, // reordered, inside the window
		4: {1, replayDuplicate},
		5: {WindowSize + 2, replayNew}, // 0 falls out: highest-0 > window
		6: {1, replayTooOld},
		7: {2, replayTooOld}, // highest-2 == WindowSize: exactly the window's size is outside
		8: {3, replayNew},    // the oldest counter still inside
	}
	for i, s := range steps {
		if got := w.accept(s.c); got != s.want {
			t.Fatalf("step %d: accept(%d) = %d, want %d", i, s.c, got, s.want)
		}
	}
	// A far jump clears everything: old bits never alias new counters.
	far := uint64(1) << 40
	if w.accept(far) != replayNew {
		t.Fatal("far jump refused")
	}
	for c := far - WindowSize + 1; c < far; c += 97 {
		if w.check(c) != replayNew {
			t.Fatalf("counter %d inside the window after a jump is not new", c)
		}
	}
}

// Every counter in a long shuffled-within-the-window stream is accepted
// exactly once.
func TestReplayWindowExact(t *testing.T) {
	var w replayWindow
	const n = 200000
	for base := uint64(0); base < n; base += 1000 {
		// deliver each block of 1000 backwards, twice
		for k := 0; k < 2; k++ {
			for c := base + 999; ; c-- {
				got := w.accept(c)
				if want := []replayVerdict{replayNew, replayDuplicate}[k]; got != want {
					t.Fatalf("counter %d pass %d: %d, want %d", c, k, got, want)
				}
				if c == base {
					break
				}
			}
		}
	}
}
