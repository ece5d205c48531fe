// Package nsenter runs Go code inside a Linux network namespace without
// leaving the namespace behind on a thread the scheduler reuses.
//
// It imports no polylink package, so every layer may use it.
package nsenter

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on a fresh OS thread switched into the namespace ns and returns
// fn's error. Sockets and netlink handles fn opens stay in ns after Do
// returns and may be used from any goroutine.
//
// The namespace is a property of the OS thread, not of the goroutine, so fn
// runs on a new goroutine locked to its thread. The thread is switched back
// before it returns to the scheduler (or never switched, when ns is the
// thread's namespace already); if entering or leaving fails, the
// goroutine exits still locked, and the runtime discards the thread instead
// of reusing it in the wrong namespace.
func Do(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("read the thread's network namespace: %w", err)
			return // the thread stays locked and dies with the goroutine
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
