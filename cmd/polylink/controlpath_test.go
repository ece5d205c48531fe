package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// defaultControlPathIn is the default control socket of a daemon on tun in
// the named namespace ns, as that daemon computes it.
func defaultControlPathIn(ns *testbed.Namespace, tun string) string {
	return filepath.Join(controlDirFor(netnsInode("/run/netns/"+ns.Name), true), tun+".sock")
}

func TestControlDirPerNamespace(t *testing.T) {
	if got := controlDirFor(7, false); got != "/run/polylink" {
		t.Errorf("initial namespace: %s", got)
	}
	if got := controlDirFor(9, true); got != "/run/polylink/netns-9" {
		t.Errorf("another namespace: %s", got)
	}
	if got := controlDirFor(0, true); got != "/run/polylink" {
		t.Errorf("namespace unknown: %s, want the shared directory", got)
	}
	if self := netnsInode("/proc/self/ns/net"); self == 0 || inOtherNetns(self) {
		t.Errorf("the test's own namespace (net:[%d]) taken for another one", self)
	}
	for dir, want := range map[string]bool{"/run/polylink": true, "/run/polylink/netns-9": true,
		"/run/polylink/other": false, "/run": false, "/tmp/netns-9": false} {
		if isDefaultControlDir(dir) != want {
			t.Errorf("isDefaultControlDir(%s) = %v", dir, !want)
		}
	}
}

// The commands `testbed up` prints start daemons in two namespaces with
// the default control socket: both must run, and status in each namespace
// must show that namespace's daemon, never the other's.
func TestDefaultControlSocketPerNamespace(t *testing.T) {
	nstest.RequireRoot(t)
	a, b := nstest.Namespace(t, "pl-ctl-a"), nstest.Namespace(t, "pl-ctl-b")
	na := startNodeWith(t, &node{t: t, ns: a, args: []string{"--vip", "198.19.0.1/24", "--router"}})
	nb := startNodeWith(t, &node{t: t, ns: b, args: []string{"--vip", "198.19.0.2/24", "--peer", "198.18.96.3"}})
	if na.control == nb.control {
		t.Fatalf("both daemons default to %s", na.control)
	}
	bin := polylinkBinary(t)
	for ns, vip := range map[*testbed.Namespace]string{a: `"198.19.0.1/24"`, b: `"198.19.0.2/24"`} {
		out, err := ns.Run(bin, "status", "--json")
		if err != nil || !strings.Contains(out, `"addr":`+vip) {
			t.Errorf("status in %s: %v\n%s\nwant its own daemon (%s)", ns.Name, err, out, vip)
		}
	}
	// Asked explicitly for the other namespace's socket, status answers
	// and says whose daemon it is.
	outb, err := b.Command(context.Background(), bin, "status", "--control", na.control).CombinedOutput()
	if out := string(outb); err != nil || !strings.Contains(out, "runs in another network namespace") {
		t.Errorf("status in %s with --control %s: %v\n%s\nwant a note that it is another namespace's daemon", b.Name, na.control, err, outb)
	}
	// A daemon in a namespace that put its socket where the initial
	// namespace's default is (an old version, or --control): status in the
	// initial namespace must not report it as its own.
	tun := fmt.Sprintf("plns%d", os.Getpid()%100000)
	shared := filepath.Join(controlDir, tun+".sock")
	startNodeWith(t, &node{t: t, ns: a, control: shared, args: []string{"--tun", tun, "--vip", "198.19.7.1/24", "--router"}})
	outb, err = exec.Command(bin, "status", "--tun", tun).CombinedOutput()
	if code := exitStatus(err); code != exitFailure || !strings.Contains(string(outb), "runs in another network namespace") ||
		strings.Count(strings.TrimSpace(string(outb)), "\n") != 0 {
		t.Errorf("status --tun %s from the initial namespace: exit %d\n%s\nwant exit 1 and one line saying the daemon is another namespace's", tun, code, outb)
	}
	na.stop()
	if _, err := os.Stat(filepath.Dir(na.control)); !os.IsNotExist(err) {
		t.Errorf("the stopped daemon left its namespace's directory %s (%v)", filepath.Dir(na.control), err)
	}
}

// exitStatus is the exit code err reports (0 for nil, -1 if it did not exit).
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
