package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/polylink/polylink/testbed/linkemu"
)

// readyTimeout bounds how long Up waits for a spawned emulator process to
// report its bridges running.
const readyTimeout = 10 * time.Second

// defaultEmulatorCommand re-runs this executable as the hidden CLI command
// that calls RunEmulators.
func defaultEmulatorCommand(prefix, stateDir string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, "testbed", "emulate", "--prefix", prefix, "--state-dir", stateDir)
}

// spawnEmulators starts the emulator process of a persistent testbed in a
// process group of its own (a Ctrl-C at the shell does not reach it),
// records it in the state file and waits until it reports its bridges up.
func (t *Topology) spawnEmulators(opts UpOptions, st *state) error {
	mk := opts.EmulatorCommand
	if mk == nil {
		mk = defaultEmulatorCommand
	}
	cmd := mk(t.Prefix, t.StateDir)
	logf, err := os.OpenFile(logPath(t.StateDir, t.Prefix), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("emulator log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	status := emuStatusPath(t.StateDir, t.Prefix)
	_ = os.Remove(status)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start emulator process %s: %w", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.mu.Lock()
	t.proc, t.procDone = cmd, done
	t.mu.Unlock()

	id, err := identify(cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("emulator process exited at once; see %s: %w", logPath(t.StateDir, t.Prefix), err)
	}
	st.Emulator = &id
	if err := writeJSON(statePath(t.StateDir, t.Prefix), st); err != nil {
		return err
	}
	deadline := time.After(readyTimeout)
	for {
		if _, err := os.Stat(status); err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("emulator process %d exited before it was ready; see %s", id.PID, logPath(t.StateDir, t.Prefix))
		case <-deadline:
			return fmt.Errorf("emulator process %d not ready after %v; see %s", id.PID, readyTimeout, logPath(t.StateDir, t.Prefix))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// RunEmulators is the body of a persistent testbed's emulator process
// (`polylink testbed emulate --prefix P --state-dir D`): it reads the state
// file Up wrote, bridges every network with the configured impairments,
// writes its status every second, and runs until ctx is cancelled (wire it
// to SIGTERM and SIGINT) or the testbed's namespaces disappear.
func RunEmulators(ctx context.Context, prefix, stateDir string) (err error) {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	st, err := readState(stateDir, prefix)
	if err != nil {
		return fmt.Errorf("emulators for %s: read state: %w", prefix, err)
	}
	var bridges [len(Nets)]*linkemu.Bridge
	defer func() {
		for _, br := range bridges {
			if br != nil {
				err = errors.Join(err, br.Close())
			}
		}
	}()
	for i, n := range Nets {
		ns, err := OpenNamespace(prefix + "-" + n.Name)
		if err != nil {
			return fmt.Errorf("emulators for %s: %w", prefix, err)
		}
		left, right, err := openPorts(ns)
		_ = ns.Close() // only releases the handle; the sockets stay inside
		if err != nil {
			return fmt.Errorf("emulator %s: %w", n.Name, err)
		}
		if bridges[i], err = linkemu.New(left, right, st.Links[i]); err != nil {
			return fmt.Errorf("emulator %s: %w", n.Name, err)
		}
	}
	stop := writeStatus(emuStatusPath(stateDir, prefix), bridges)
	defer stop()
	tick := time.NewTicker(statusInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			for _, name := range st.Namespaces {
				if _, err := os.Stat("/run/netns/" + name); err != nil {
					return fmt.Errorf("emulators for %s: namespace %s is gone", prefix, name)
				}
			}
		}
	}
}
