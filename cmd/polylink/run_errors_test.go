package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// runOnce runs `polylink ARGS` inside ns (through prefix, e.g. setpriv or
// unshare) and returns its exit code and standard error.
func runOnce(t *testing.T, ns *testbed.Namespace, prefix []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	argv := append(append(prefix, polylinkBinary(t)), args...)
	cmd := ns.Command(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", argv, err)
	}
	return cmd.ProcessState.ExitCode(), strings.TrimSpace(stderr.String())
}

// TestRunErrorsSayWhatToDo: the failures a new user meets first end the
// daemon with exit code 1 and one line naming the problem and the remedy.
func TestRunErrorsSayWhatToDo(t *testing.T) {
	a := nstest.Namespace(t, "pl-err")
	b := nstest.Namespace(t, "pl-err")
	nstest.Veth(t, a, "eth0", "198.19.94.1/24", b, "eth0", "198.19.94.2/24")
	args := []string{"run", "--vip", "198.19.94.7/24", "--peer", "198.18.94.2", "--control", filepath.Join(t.TempDir(), "c.sock")}
	for _, c := range []struct {
		name   string
		prefix []string
		args   []string
		want   string
	}{
		{"virtual prefix overlaps a real network", nil, args, "overlaps an address on eth0: pick another --vip"},
		{"not root", []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"},
			[]string{"run", "--vip", "198.19.95.7/24", "--peer", "198.18.94.2"}, "missing CAP_NET_ADMIN and CAP_NET_RAW"},
		{"only CAP_NET_ADMIN", []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+net_admin", "--ambient-caps=+net_admin"},
			[]string{"run", "--vip", "198.19.95.7/24", "--peer", "198.18.94.2"}, "missing CAP_NET_RAW (needed"},
		{"no /dev/net/tun", []string{"unshare", "--mount", "sh", "-c", "mount -t tmpfs none /dev/net && exec \"$0\" \"$@\""},
			[]string{"run", "--vip", "198.19.95.7/24", "--peer", "198.18.94.2", "--control", filepath.Join(t.TempDir(), "d.sock")}, "modprobe tun"},
	} {
		code, msg := runOnce(t, a, c.prefix, c.args...)
		t.Logf("%s: exit %d: %s", c.name, code, msg)
		if code != exitFailure || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") > 0 {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and one line mentioning %q", c.name, code, msg, exitFailure, c.want)
		}
	}
}

// TestSecondDaemonOnBusyTUN: a second `run` with the same settings is told
// that polylink already runs there, not that its prefix overlaps.
func TestSecondDaemonOnBusyTUN(t *testing.T) {
	a := nstest.Namespace(t, "pl-busy")
	startNode(t, a, "--vip", "198.19.93.1/24", "--router")
	code, msg := runOnce(t, a, nil, "run", "--vip", "198.19.93.1/24", "--router", "--control", filepath.Join(t.TempDir(), "2.sock"))
	if code != exitFailure || !strings.Contains(msg, "polylink already runs on pl0") || strings.Contains(msg, "overlaps") || strings.Count(msg, "\n") > 0 {
		t.Fatalf("second daemon on pl0: exit %d, stderr %q; want exit 1 and one line saying polylink already runs on pl0", code, msg)
	}
}

// TestShutdownLeavesNothing: SIGTERM removes the TUN and the control socket.
func TestShutdownLeavesNothing(t *testing.T) {
	a := nstest.Namespace(t, "pl-off")
	b := nstest.Namespace(t, "pl-off")
	nstest.Veth(t, a, "eth0", "198.18.96.1/24", b, "eth0", "198.18.96.2/24")
	n := startNode(t, a, "--vip", "198.19.96.1/24", "--peer", "198.18.96.2")
	if out, err := a.Run("ip", "-o", "link", "show", "pl0"); err != nil || !strings.Contains(out, "pl0") {
		t.Fatalf("TUN missing while running: %q %v", out, err)
	}
	n.stop()
	if out, err := a.Run("ip", "-o", "link", "show", "pl0"); err == nil {
		t.Errorf("TUN still there after SIGTERM: %q", out)
	}
	if _, err := os.Stat(n.control); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket %s still there after SIGTERM: %v", n.control, err)
	}
}
