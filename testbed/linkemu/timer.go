package linkemu

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// wakeTimer is a one-shot timerfd a scheduler blocks on. Any goroutine may
// arm it; arming replaces the previous expiry. Go's timers round waits below
// a millisecond up to about a millisecond; a timerfd read on a thread with
// minimal timer slack wakes within tens of microseconds and burns no CPU.
type wakeTimer struct {
	fd int
}

func newWakeTimer() (*wakeTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create timerfd: %w", err)
	}
	return &wakeTimer{fd: fd}, nil
}

// arm sets the expiry to at (emulator clock); a time in the past fires now.
func (w *wakeTimer) arm(at int64) {
	at += monoOffset
	if at <= 0 {
		at = 1 // 0 would disarm
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(at)}
	// Cannot fail for a valid fd and a positive time.
	_ = unix.TimerfdSettime(w.fd, unix.TFD_TIMER_ABSTIME, &spec, nil)
}

// lockThread pins the calling goroutine to its OS thread and shrinks the
// thread's timer slack from the default 50 µs to 1 ns. The thread is
// discarded when the goroutine exits without unlocking.
func lockThread() {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
}

// wait blocks the thread until the timer fires. Go's preemption signals
// interrupt the read (EINTR); it resumes.
func (w *wakeTimer) wait() error {
	var buf [8]byte
	for {
		_, err := unix.Read(w.fd, buf[:])
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func (w *wakeTimer) close() error { return unix.Close(w.fd) }
