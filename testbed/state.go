package testbed

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/polylink/polylink/testbed/linkemu"
)

// state is what a fresh process needs to find, inspect and remove a
// testbed: written by Up before it creates anything, removed by Down last.
type state struct {
	Prefix     string                    `json:"prefix"`
	Namespaces []string                  `json:"namespaces"`
	Links      [len(Nets)]linkemu.Config `json:"links"`
	Persistent bool                      `json:"persistent"`
	Owner      procID                    `json:"owner"` // ran Up; hosts in-process emulators
	Emulator   *procID                   `json:"emulator,omitempty"`
	Created    time.Time                 `json:"created"`
}

// procID names a process robustly: the PID and its start time (clock ticks
// since boot), so a recycled PID is never mistaken for it.
type procID struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func statePath(dir, prefix string) string     { return filepath.Join(dir, prefix+".json") }
func emuStatusPath(dir, prefix string) string { return filepath.Join(dir, prefix+".emu.json") }
func logPath(dir, prefix string) string       { return filepath.Join(dir, prefix+".log") }

// writeJSON replaces path atomically, so a reader never sees half a file.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func readState(dir, prefix string) (*state, error) {
	var s state
	if err := readJSON(statePath(dir, prefix), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// identify returns the procID of a running process.
func identify(pid int) (procID, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procID{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	// Field 22 (starttime) counts from the end of "(comm)", which may hold spaces.
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 20 {
		return procID{}, fmt.Errorf("process %d: short /proc stat", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procID{}, fmt.Errorf("process %d start time: %w", pid, err)
	}
	if f[0] == "Z" || f[0] == "X" {
		return procID{}, fmt.Errorf("process %d has exited", pid)
	}
	return procID{PID: pid, Start: start}, nil
}

// alive reports whether the process p names still runs (a zombie does not).
func (p procID) alive() bool {
	now, err := identify(p.PID)
	return err == nil && now.Start == p.Start
}

// stop sends SIGTERM to the process, then SIGKILL if it has not gone
// within grace, and waits (bounded) until it has.
func (p procID) stop(grace time.Duration) error {
	if !p.alive() {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for p.alive() {
		if time.Now().After(deadline) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			if time.Now().After(deadline.Add(2 * time.Second)) {
				return fmt.Errorf("emulator process %d survives SIGKILL", p.PID)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// emulatorStatus is what the emulators' host writes every second.
type emulatorStatus struct {
	PID     int         `json:"pid"`
	Updated time.Time   `json:"updated"`
	Nets    []NetStatus `json:"nets"`
}

// NetStatus is one network's emulator: its configuration and counters.
type NetStatus struct {
	Name   string              `json:"name"`
	Config linkemu.Config      `json:"config"`
	Stats  linkemu.BridgeStats `json:"stats"`
}

// statusInterval is how often the emulators' host rewrites its status.
const statusInterval = time.Second

// writeStatus starts a goroutine that writes the bridges' status to path
// now and every statusInterval, and returns a function that stops it and
// removes the file.
func writeStatus(path string, bridges [len(Nets)]*linkemu.Bridge) (stop func()) {
	write := func() {
		st := emulatorStatus{PID: os.Getpid(), Updated: time.Now()}
		for i, br := range bridges {
			if br == nil {
				continue
			}
			st.Nets = append(st.Nets, NetStatus{
				Name:   Nets[i].Name,
				Config: linkemu.Config{AB: br.AB().Impairment(), BA: br.BA().Impairment()},
				Stats:  br.Stats(),
			})
		}
		_ = writeJSON(path, st) // best effort: status is advisory
	}
	write()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(statusInterval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				write()
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		_ = os.Remove(path) // a leftover is harmless: Down removes it too
	}
}
