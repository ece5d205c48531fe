package testbed

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// stopGrace is how long an emulator process gets to exit on SIGTERM
// before SIGKILL.
const stopGrace = 3 * time.Second

// Down stops the emulators (goroutines or process), deletes every
// namespace (and with them every veth) and removes the state file.
// Idempotent; safe from any goroutine, also concurrently with itself.
func (t *Topology) Down() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.down {
		return nil
	}
	t.down = true
	var errs []error
	if t.stopState != nil {
		t.stopState()
	}
	for i, br := range t.emulators {
		if br != nil {
			errs = append(errs, br.Close())
			t.emulators[i] = nil
		}
	}
	if t.proc != nil {
		errs = append(errs, stopChild(t.proc.Process.Pid, t.procDone))
	}
	for _, ns := range append(t.hosts[:], t.nets[:]...) {
		if ns != nil {
			errs = append(errs, ns.Close())
		}
	}
	err := errors.Join(errs...)
	if err == nil {
		// Kept on failure, so Down(prefix) can finish the job later.
		err = removeStateFiles(t.StateDir, t.Prefix)
	}
	if err != nil {
		return fmt.Errorf("testbed %s down: %w", t.Prefix, err)
	}
	t.log.Info("testbed down", zap.String("prefix", t.Prefix))
	return nil
}

// stopChild ends an emulator process this process started and reaps it.
func stopChild(pid int, done <-chan struct{}) error {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	select {
	case <-done:
		return nil
	case <-time.After(stopGrace):
		return fmt.Errorf("emulator process %d survives SIGKILL", pid)
	}
}

func removeStateFiles(dir, prefix string) error {
	var errs []error
	for _, p := range []string{emuStatusPath(dir, prefix), statePath(dir, prefix)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Down removes the testbed named prefix from any process, for `polylink
// testbed down`: it stops the emulator process its state file in stateDir
// names (DefaultStateDir when empty; only that PID, and only if its start
// time matches), deletes the testbed's namespaces and removes the state
// files. The log file stays for post-mortems. Nothing to remove is not an
// error.
func Down(prefix, stateDir string) error {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	var errs []error
	names := Namespaces(prefix)
	st, err := readState(stateDir, prefix)
	switch {
	case err == nil:
		if st.Emulator != nil {
			errs = append(errs, st.Emulator.stop(stopGrace))
		}
		names = append(names, st.Namespaces...)
	case !errors.Is(err, os.ErrNotExist):
		errs = append(errs, err) // unreadable: still remove what the prefix names
	}
	seen := map[string]bool{}
	var unique []string
	for _, name := range names {
		if !seen[name] {
			seen[name] = true
			unique = append(unique, name)
		}
	}
	if err := stopDaemonsIn(unique); err != nil {
		errs = append(errs, err)
		return fmt.Errorf("testbed %s down: %w", prefix, errors.Join(errs...))
	}
	for _, name := range unique {
		if _, err := os.Stat("/run/netns/" + name); err != nil {
			continue
		}
		if _, err := Cmd("ip", "netns", "del", name); err != nil {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testbed %s down: %w", prefix, err)
	}
	return removeStateFiles(stateDir, prefix)
}
