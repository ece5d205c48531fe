package linkmon

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// do runs fn on a fresh OS thread switched into the namespace ns. Sockets fn
// opens stay in ns and may be used from any goroutine afterwards. The thread
// is switched back before it returns to the scheduler; if entering or
// leaving fails, its goroutine exits still locked, so the runtime discards
// the thread instead of reusing it in the wrong namespace.
func do(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("read the thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if orig.Equal(ns) {
			// Already there: setns needs CAP_SYS_ADMIN even to enter
			// the current namespace, which a daemon running with only
			// CAP_NET_ADMIN and CAP_NET_RAW does not hold.
			runtime.UnlockOSThread()
			errc <- fn()
			return
		}
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("return to the original network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// ownNamespace returns a handle the monitor owns for the namespace h
// designates: a duplicate of h, or the calling thread's namespace when h is
// 0 or netns.None(). Holding its own handle keeps the namespace alive and
// lets the caller close theirs.
func ownNamespace(h netns.NsHandle) (netns.NsHandle, error) {
	if h == 0 || h == netns.None() {
		cur, err := netns.Get()
		if err != nil {
			return netns.None(), fmt.Errorf("open the current network namespace: %w", err)
		}
		return cur, nil
	}
	fd, err := unix.FcntlInt(uintptr(h), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return netns.None(), fmt.Errorf("duplicate network namespace handle %d: %w", int(h), err)
	}
	return netns.NsHandle(fd), nil
}
