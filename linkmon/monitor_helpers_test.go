package linkmon

import (
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// startMonitor runs a monitor on ns (from this thread, which is not in ns),
// closed at test end.
func startMonitor(t *testing.T, ns *testbed.Namespace, cfg Config, hooks testHooks) *Monitor {
	t.Helper()
	cfg.Namespace = ns.Handle()
	m, err := newMonitor(cfg, hooks)
	if err != nil {
		t.Fatalf("monitor %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// expectEvent returns the monitor's next event and fails unless it is kind on
// the NIC named name.
func expectEvent(t *testing.T, m *Monitor, kind EventKind, name string) Event {
	t.Helper()
	select {
	case ev, ok := <-m.Events():
		if !ok {
			t.Fatalf("waiting for %v %s: Events closed", kind, name)
		}
		if ev.Kind != kind || ev.NIC.Name != name {
			t.Fatalf("got event %v, want %v %s", ev, kind, name)
		}
		return ev
	case <-time.After(waitFor):
		t.Fatalf("no %v %s event within %v", kind, name, waitFor)
	}
	panic("unreachable")
}

// expectNoEvent fails if the monitor has an event queued.
func expectNoEvent(t *testing.T, m *Monitor) {
	t.Helper()
	select {
	case ev := <-m.Events():
		t.Fatalf("unexpected event %v", ev)
	default:
	}
}

// waitOperUp waits until the kernel reports name in ns operationally up:
// the kernel applies carrier changes asynchronously (linkwatch), up to a
// second after `ip link set up`.
func waitOperUp(t testing.TB, h *netlink.Handle, name string) {
	t.Helper()
	for deadline := time.Now().Add(waitFor); ; time.Sleep(5 * time.Millisecond) {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatalf("look up %s: %v", name, err)
		}
		if l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not operationally up after %v: %v", name, waitFor, l.Attrs().OperState)
		}
	}
}

// handleIn opens a netlink handle into ns, closed at test end.
func handleIn(t testing.TB, ns *testbed.Namespace) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns.Handle())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// expectClosed fails unless s reports net.ErrClosed.
func expectClosed(t *testing.T, s *Socket) {
	t.Helper()
	if _, _, err := s.ReadFrom(make([]byte, 64)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on the replaced socket of %s: %v, want net.ErrClosed", s.NIC().Name, err)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// expectNoLeaks waits until goroutines and file descriptors are back at the
// baseline taken before the monitors started.
func expectNoLeaks(t *testing.T, goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > goroutines || openFDs(t) > fds {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("leak: %d goroutines (baseline %d), %d fds (baseline %d)\n%s",
				runtime.NumGoroutine(), goroutines, openFDs(t), fds, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// boundTo reports the index and address s is bound to, read back from the
// kernel.
func boundTo(t *testing.T, s *Socket) (index int, addr [4]byte) {
	t.Helper()
	var err error
	cerr := s.conn.Control(func(fd uintptr) {
		if index, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BINDTOIFINDEX); err != nil {
			return
		}
		var sa unix.Sockaddr
		if sa, err = unix.Getsockname(int(fd)); err == nil {
			addr = sa.(*unix.SockaddrInet4).Addr
		}
	})
	if err = errors.Join(cerr, err); err != nil {
		t.Fatalf("read back binding of %s: %v", s.NIC().Name, err)
	}
	return index, addr
}
