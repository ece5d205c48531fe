package linkmon

import (
	"fmt"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/internal/nsenter"
)

// do runs fn on an OS thread switched into the namespace ns; see
// nsenter.Do.
func do(ns netns.NsHandle, fn func() error) error { return nsenter.Do(ns, fn) }

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
