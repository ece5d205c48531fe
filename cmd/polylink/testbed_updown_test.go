package main

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// TestTestbedUpCommandsWorkAndDownStopsThem follows a new user: `testbed
// up`, then the commands it prints, exactly; then `testbed down`, which must
// stop the daemons those commands started, and must not say "down" while
// some other process still runs inside.
func TestTestbedUpCommandsWorkAndDownStopsThem(t *testing.T) {
	nstest.RequireRoot(t)
	bin := polylinkBinary(t)
	prefix := testbed.UniqueName("pl-up")
	polylink := func(args ...string) (int, string) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return exitStatus(err), strings.TrimSpace(string(out))
	}
	t.Cleanup(func() { polylink("testbed", "down", "--prefix", prefix) })
	code, out := polylink("testbed", "up", "--prefix", prefix)
	if code != 0 {
		t.Fatalf("testbed up: exit %d: %s", code, out)
	}
	var daemons []*exec.Cmd
	t.Cleanup(func() { // only if down did not stop them: a failed test
		for _, d := range daemons {
			if d.ProcessState == nil {
				_ = d.Process.Kill()
				_ = d.Wait()
			}
		}
	})
	var ran int
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "ip netns exec ") {
			continue
		}
		background := strings.HasSuffix(line, "&")
		argv := strings.Fields(strings.TrimSuffix(line, "&"))
		for i, a := range argv {
			if a == "polylink" {
				argv[i] = bin
			}
		}
		ran++
		if background {
			d := exec.Command(argv[0], argv[1:]...)
			if err := d.Start(); err != nil {
				t.Fatal(err)
			}
			daemons = append(daemons, d)
			continue
		}
		// In the foreground: it must succeed once the daemons are up.
		var cmdOut []byte
		var err error
		deadline := time.Now().Add(15 * time.Second)
		for {
			cmdOut, err = exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%q, as testbed up printed it, fails: %v\n%s", line, err, cmdOut)
		}
	}
	if len(daemons) < 2 || ran < 4 {
		t.Fatalf("testbed up printed %d commands, %d daemons:\n%s", ran, len(daemons), out)
	}

	// A process that is not polylink's stays the user's to end.
	sleeper := exec.Command("ip", "netns", "exec", prefix+"-vm2", "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	waitFor(t, "sleep inside "+prefix+"-vm2", 5*time.Second, func() bool {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(sleeper.Process.Pid) + "/comm")
		return strings.TrimSpace(string(comm)) == "sleep"
	})
	code, out = polylink("testbed", "down", "--prefix", prefix)
	if code != exitFailure || !strings.Contains(out, "sleep (PID") || strings.Contains(out, "is down") || strings.Count(out, "\n") > 0 {
		t.Errorf("testbed down with sleep running inside: exit %d: %q; want exit 1 and one line naming sleep", code, out)
	}
	if _, err := os.Stat("/run/netns/" + prefix + "-vm2"); err != nil {
		t.Errorf("testbed down deleted %s-vm2 with a process inside: %v", prefix, err)
	}
	for _, d := range daemons {
		done := make(chan error, 1)
		go func() { done <- d.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon %v ended with %v, want a clean exit on SIGTERM", d.Args, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("daemon %v still runs after testbed down", d.Args)
		}
	}
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	if code, out = polylink("testbed", "down", "--prefix", prefix); code != 0 || !strings.Contains(out, "is down") {
		t.Fatalf("testbed down after the user's process ended: exit %d: %s", code, out)
	}
	for _, ns := range testbed.Namespaces(prefix) {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("namespace %s left after testbed down", ns)
		}
	}
}
