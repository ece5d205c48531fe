package testbed

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Daemon is a polylink daemon the testbed runs inside one of its hosts.
type Daemon struct {
	// Host is where it runs; Control is its control socket; Log its output.
	Host    Host
	Control string
	Log     string

	cmd  *exec.Cmd
	done chan error // the process's exit, once
}

// StartDaemon runs `BINARY run --control CONTROL ARGS…` inside ns, its
// output going to logPath, and waits until it answers status.
func StartDaemon(ns *Namespace, h Host, binary, control, logPath string, args ...string) (*Daemon, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	defer logf.Close()
	all := append([]string{"netns", "exec", ns.Name, binary, "run", "--control", control}, args...)
	cmd := exec.Command("ip", all...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us, not it: we stop it in order
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start polylink in %s: %w", h, err)
	}
	d := &Daemon{Host: h, Control: control, Log: logPath, cmd: cmd, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := d.Status(); err == nil {
			return d, nil
		}
		select {
		case err := <-d.done:
			d.done <- err
			return nil, fmt.Errorf("polylink in %s exited at start (%v): %s", h, err, lastLines(logPath, 3))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("polylink in %s did not answer status within 10 s: %s", h, lastLines(logPath, 3))
		}
	}
}

// Stop ends the daemon with SIGTERM, then SIGKILL after 5 s, and waits. A
// daemon that did not exit cleanly (a panic on shutdown, say) is an error.
func (d *Daemon) Stop() error {
	if d == nil || d.cmd.Process == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		if err != nil {
			return fmt.Errorf("polylink in %s exited with %v: %s", d.Host, err, lastLines(d.Log, 3))
		}
		return nil
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		err := <-d.done
		d.done <- err
		return fmt.Errorf("polylink in %s ignored SIGTERM for 5 s and was killed", d.Host)
	}
}

// DaemonStatus is the part of `polylink status --json` the testbed reads:
// the contract in DESIGN.md, read from outside as any script would.
type DaemonStatus struct {
	TUN struct {
		Name  string `json:"name"`
		Index int    `json:"index"`
		Addr  string `json:"addr"`
	} `json:"tun"`
	Hosts []struct {
		VIP         string       `json:"vip"`
		Connections []PathStatus `json:"connections"`
	} `json:"hosts"`
	Counters struct {
		TxPackets         uint64 `json:"tx_packets"`
		RxPackets         uint64 `json:"rx_packets"`
		Delivered         uint64 `json:"delivered"`
		DuplicatesDropped uint64 `json:"duplicates_dropped"`
		MalformedDropped  uint64 `json:"malformed_dropped"`
		LateDuplicates    uint64 `json:"late_duplicates"`
	} `json:"counters"`
}

// PathStatus is one connection in a daemon's status.
type PathStatus struct {
	Local      string  `json:"local"`
	RemoteAddr string  `json:"remote_addr"`
	State      int     `json:"state"`
	RTTMs      float64 `json:"rtt_ms"`
	Loss       float64 `json:"loss"`
	FirstWins  uint64  `json:"first_wins"`
	TxPackets  uint64  `json:"tx_packets"`
	RxPackets  uint64  `json:"rx_packets"`
	// What the path carried per traffic class, and whether it is metered
	// (here or at the far end) and carries the host's bulk.
	TxRealtimeBytes uint64 `json:"tx_realtime_bytes"`
	TxBulkBytes     uint64 `json:"tx_bulk_bytes"`
	TxSecondCopies  uint64 `json:"tx_second_copies"`
	Metered         bool   `json:"metered"`
	RemoteMetered   bool   `json:"remote_metered"`
	Bulk            bool   `json:"bulk"`
}

// Status asks the daemon for its status over its control socket.
func (d *Daemon) Status() (*DaemonStatus, error) {
	c, err := net.DialTimeout("unix", d.Control, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("status\n")); err != nil {
		return nil, err
	}
	var s DaemonStatus
	if err := json.NewDecoder(bufio.NewReader(c)).Decode(&s); err != nil {
		return nil, fmt.Errorf("status of polylink in %s: %w", d.Host, err)
	}
	return &s, nil
}

// UpPaths counts the daemon's connections in state 2 to host vip.
func (s *DaemonStatus) UpPaths(vip string) int {
	n := 0
	for _, h := range s.Hosts {
		if h.VIP == vip {
			for _, c := range h.Connections {
				if c.State == 2 {
					n++
				}
			}
		}
	}
	return n
}

// WaitPaths waits until the daemon has at least n paths up to host vip.
func (d *Daemon) WaitPaths(vip string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		s, err := d.Status()
		if err == nil && s.UpPaths(vip) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("polylink in %s: fewer than %d paths up to %s after %v (log: %s)", d.Host, n, vip, timeout, d.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
