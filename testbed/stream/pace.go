package stream

import (
	"context"
	"runtime"

	"golang.org/x/sys/unix"
)

// maxSleep bounds one sleep so a cancelled context or a far start time is
// noticed within this long.
const maxSleep = 20_000_000 // ns

// pacer sleeps until absolute CLOCK_MONOTONIC deadlines. time.Sleep wakes
// ≈0.5 ms late here (the runtime's poller rounds sub-millisecond waits up),
// too coarse for 10,000 packet/s; an absolute clock_nanosleep on a thread
// whose timer slack is 1 ns wakes within tens of microseconds and, being
// absolute, never accumulates error. The price is one wake-up per deadline:
// ≈26 µs of CPU each on the 2-core test VM (18 µs of it the kernel's own
// sleep and wake, measured with a raw system call), so a 10,000 packet/s
// stream costs about a quarter of a core; frame bursts share one wake-up.
// The pacer owns its goroutine's OS thread from newPacer until release.
type pacer struct {
	oldSlack int
	slackSet bool
}

// newPacer locks the calling goroutine to its thread and tightens the
// thread's timer slack; release undoes both.
func newPacer() *pacer {
	runtime.LockOSThread()
	p := &pacer{}
	if old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); err == nil {
		if unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0) == nil {
			p.oldSlack, p.slackSet = old, true
		}
	}
	return p
}

func (p *pacer) release() {
	if p.slackSet {
		// Best effort: a thread left with a 1 ns slack only wakes more precisely.
		_ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(p.oldSlack), 0, 0, 0)
	}
	runtime.UnlockOSThread()
}

// waitUntil returns once Now() ≥ due, at once if due has passed, or with the
// context's error when ctx ends first.
func (p *pacer) waitUntil(ctx context.Context, due int64) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := Now()
		if now >= due {
			return nil
		}
		ts := unix.NsecToTimespec(min(due, now+maxSleep))
		// EINTR (a signal) just means sleep again; any other error cannot
		// happen with a valid clock and time, and the loop rechecks anyway.
		_ = unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil)
	}
}
