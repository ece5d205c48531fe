package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netns"

	"github.com/polylink/polylink/internal/nsenter"
)

// Namespace is a named network namespace the testbed created. Its name is
// registered with iproute2 (`ip netns`), so `ip netns exec NAME …` and the
// cleanup of leftovers work from a shell as well.
type Namespace struct {
	// Name is the namespace's name under /run/netns.
	Name string

	mu       sync.Mutex
	handle   netns.NsHandle // guarded by mu; closed by Close
	closed   bool           // guarded by mu
	borrowed bool           // opened, not created: Close keeps the namespace
}

var nsCounter atomic.Uint32

// UniqueName returns prefix-PID-N, a name no other process or earlier call of
// this process uses, so parallel tests and testbeds never collide.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), nsCounter.Add(1))
}

// NewNamespace creates the network namespace name with its loopback up.
func NewNamespace(name string) (*Namespace, error) {
	if _, err := Cmd("ip", "netns", "add", name); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		_, _ = Cmd("ip", "netns", "del", name)
		return nil, fmt.Errorf("open namespace %s: %w", name, err)
	}
	n := &Namespace{Name: name, handle: h}
	if _, err := n.Run("ip", "link", "set", "lo", "up"); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// OpenNamespace opens the existing namespace name, which some other
// process created. Its Close releases the handle and leaves the namespace.
func OpenNamespace(name string) (*Namespace, error) {
	h, err := netns.GetFromName(name)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", name, err)
	}
	return &Namespace{Name: name, handle: h, borrowed: true}, nil
}

// Handle returns the namespace's file handle, valid until Close.
func (n *Namespace) Handle() netns.NsHandle {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.handle
}

// Do runs fn on an OS thread switched into the namespace (nsenter.Do) and
// returns fn's error. Sockets and netlink handles fn opens stay in the
// namespace after Do returns and may be used from any goroutine.
func (n *Namespace) Do(fn func() error) error {
	var ferr error
	// fn's error is kept apart so that only entering or leaving the
	// namespace is reported with its name, as fn's own errors always were.
	err := nsenter.Do(n.Handle(), func() error { ferr = fn(); return nil })
	if err != nil {
		return errors.Join(ferr, fmt.Errorf("namespace %s: %w", n.Name, err))
	}
	return ferr
}

// Command returns a command that runs inside the namespace (ip netns exec).
func (n *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	all := append([]string{"netns", "exec", n.Name, name}, args...)
	return exec.CommandContext(ctx, "ip", all...)
}

// Run runs a command inside the namespace and returns its standard output;
// the error carries the command line and its standard error.
func (n *Namespace) Run(name string, args ...string) (string, error) {
	all := append([]string{"netns", "exec", n.Name, name}, args...)
	return Cmd("ip", all...)
}

// Close deletes the namespace. Links inside it go with it; processes still
// running inside are the caller's to end first. Close is idempotent.
func (n *Namespace) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	n.handle.Close()
	if n.borrowed {
		return nil
	}
	if _, err := Cmd("ip", "netns", "del", n.Name); err != nil {
		return fmt.Errorf("delete namespace %s: %w", n.Name, err)
	}
	return nil
}

// Veth creates a veth pair with end aName in a and end bName in b.
func Veth(a *Namespace, aName string, b *Namespace, bName string) error {
	if _, err := Cmd("ip", "link", "add", aName, "netns", a.Name, "type", "veth",
		"peer", "name", bName, "netns", b.Name); err != nil {
		return fmt.Errorf("create veth %s/%s: %w", aName, bName, err)
	}
	return nil
}

// Cmd runs a command and returns its standard output; a failure names the
// command and carries what it printed on standard error.
func Cmd(name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	c := exec.Command(name, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
