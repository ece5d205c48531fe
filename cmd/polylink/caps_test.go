package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/polylink/polylink/testbed/nstest"
)

func TestMissingCapsNamesEachOne(t *testing.T) {
	admin, raw := uint64(1)<<neededCaps[0].bit, uint64(1)<<neededCaps[1].bit
	for _, c := range []struct {
		eff  uint64
		want string
	}{
		{0, "missing CAP_NET_ADMIN and CAP_NET_RAW"},
		{admin, "missing CAP_NET_RAW ("},
		{raw, "missing CAP_NET_ADMIN ("},
	} {
		err := capsError(missingCaps(c.eff))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("caps %#x: got %v, want %q", c.eff, err, c.want)
		}
	}
	if err := capsError(missingCaps(admin | raw)); err != nil {
		t.Errorf("both capabilities held: %v", err)
	}
}

// Unprivileged users of the test: the daemon's, an operator in the
// daemon's group, and a stranger. Chosen above the range distributions
// give to people.
const (
	daemonUID   = 64601
	operatorUID = 64602
	strangerUID = 64603
)

// TestRunsUnprivilegedWithTwoCapabilities runs the daemon as an
// unprivileged user holding only CAP_NET_ADMIN and CAP_NET_RAW as ambient
// capabilities (what the systemd unit does): it carries traffic, an
// operator in the daemon's group reads its status without root, a stranger
// is refused.
func TestRunsUnprivilegedWithTwoCapabilities(t *testing.T) {
	nstest.RequireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux) to drop to an unprivileged user")
	}
	openTUNDevice(t)
	// The daemon's user must reach the binary and own its runtime
	// directory, like systemd's RuntimeDirectory= (mode 0750).
	base, err := os.MkdirTemp("", "polylink-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	must(t, os.Chmod(base, 0o755))
	bin := filepath.Join(base, "polylink")
	copyFile(t, polylinkBinary(t), bin, 0o755)
	run := filepath.Join(base, "run")
	must(t, os.Mkdir(run, 0o750))
	must(t, os.Chown(run, daemonUID, daemonUID))

	a, b := nstest.Namespace(t, "pl-caps-a"), nstest.Namespace(t, "pl-caps-b")
	nstest.Veth(t, a, "eth0", "198.18.97.1/24", b, "eth0", "198.18.97.2/24")
	ids := "--reuid=" + strconv.Itoa(daemonUID)
	gid := "--regid=" + strconv.Itoa(daemonUID)
	na := startNodeWith(t, &node{t: t, ns: a, control: filepath.Join(run, "pl0.sock"), bin: bin,
		wrap: []string{"setpriv", ids, gid, "--clear-groups", "--inh-caps=+net_admin,+net_raw",
			"--ambient-caps=+net_admin,+net_raw", "--bounding-set=-all,+net_admin,+net_raw"},
		args: []string{"--vip", "198.19.97.1/24", "--peer", "198.18.97.2", "--probe", "50ms"}})
	startNode(t, b, "--vip", "198.19.97.2/24", "--peer", "198.18.97.1", "--probe", "50ms")
	waitFor(t, "the path up", 5e9, func() bool { return na.upPaths("198.19.97.2") == 1 })
	if out, err := a.Run("ping", "-c", "3", "-i", "0.05", "-W", "1", "198.19.97.2"); err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping across the tunnel from the unprivileged daemon: %v\n%s", err, out)
	}
	st := na.status()
	if uid := processUID(t, st.PID); uid != daemonUID {
		t.Fatalf("daemon runs as uid %d, want %d", uid, daemonUID)
	}
	fi, err := os.Stat(na.control)
	must(t, err)
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("control socket mode %v, want 0660", fi.Mode().Perm())
	}

	statusAs := func(uid int, groups string) (int, string, string) {
		args := []string{"setpriv", "--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(uid)}
		if groups == "" {
			args = append(args, "--clear-groups")
		} else {
			args = append(args, "--groups="+groups)
		}
		cmd := exec.Command(args[0], append(args[1:], bin, "status", "--json", "--control", na.control)...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		_ = cmd.Run()
		return cmd.ProcessState.ExitCode(), out.String(), strings.TrimSpace(errOut.String())
	}
	code, out, msg := statusAs(operatorUID, strconv.Itoa(daemonUID))
	var doc statusDoc
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Hosts) != 1 {
		t.Fatalf("status by an operator in the daemon's group: exit %d, %q, %s", code, msg, out)
	}
	code, _, msg = statusAs(strangerUID, "")
	if code != exitFailure || !strings.Contains(msg, "permission denied") {
		t.Fatalf("status by a stranger: exit %d, %q; want exit 1 and permission denied", code, msg)
	}
	t.Logf("stranger told: %s", msg)
}

// openTUNDevice lets unprivileged users open /dev/net/tun for the test
// (it is 0600 on this machine; distributions ship 0666) and restores the
// mode afterwards.
func openTUNDevice(t *testing.T) {
	const dev = "/dev/net/tun"
	fi, err := os.Stat(dev)
	if err != nil {
		t.Skipf("no %s: %v", dev, err)
	}
	if fi.Mode().Perm()&0o006 == 0o006 {
		return
	}
	must(t, os.Chmod(dev, 0o666))
	t.Cleanup(func() {
		if err := os.Chmod(dev, fi.Mode().Perm()); err != nil {
			t.Errorf("restore the mode of %s: %v", dev, err)
		}
	})
}

func processUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	must(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "Uid:" {
			uid, _ := strconv.Atoi(f[2]) // effective
			return uid
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return -1
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	must(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	must(t, err)
	_, err = io.Copy(dst, src)
	must(t, err)
	must(t, dst.Close())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
