package testbed_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// The test binary doubles as a persistent testbed's emulator process.
const (
	emulateEnv  = "PL_TESTBED_TEST_EMULATE"
	stateDirEnv = "PL_TESTBED_TEST_STATE_DIR"
)

func TestMain(m *testing.M) {
	if prefix := os.Getenv(emulateEnv); prefix != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := testbed.RunEmulators(ctx, prefix, os.Getenv(stateDirEnv))
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	removePolylinkBinary()
	os.Exit(code)
}

// selfEmulator runs this test binary as the emulator process.
func selfEmulator(prefix, stateDir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), emulateEnv+"="+prefix, stateDirEnv+"="+stateDir)
	return cmd
}

// up builds a testbed with a unique prefix and a private state directory,
// removed at test end.
func up(t *testing.T, opts testbed.UpOptions) *testbed.Topology {
	t.Helper()
	nstest.RequireRoot(t)
	if opts.Prefix == "" {
		opts.Prefix = testbed.UniqueName("pltest")
	}
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	tb, err := testbed.Up(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tb.Down(); err != nil {
			t.Error(err)
		}
	})
	return tb
}

// assertGone fails unless no namespace, state file or emulator of the
// testbed is left.
func assertGone(t *testing.T, prefix, stateDir string) {
	t.Helper()
	out, err := testbed.Cmd("ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, prefix+"-") {
		t.Errorf("namespaces of %s left behind:\n%s", prefix, out)
	}
	for _, f := range []string{prefix + ".json", prefix + ".emu.json"} {
		if _, err := os.Stat(stateDir + "/" + f); err == nil {
			t.Errorf("state file %s left behind", f)
		}
	}
	r, err := testbed.Status(prefix, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Running() || r.StateFile != "" {
		t.Errorf("status after down: %+v", r)
	}
}

// waitGoroutines waits until the goroutine count is back to at most n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, had %d before:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ping(ns *testbed.Namespace, addr string) error {
	_, err := ns.Run("ping", "-c", "2", "-i", "0.05", "-W", "1", addr)
	return err
}

func TestUpBuildsSeedTopology(t *testing.T) {
	nstest.RequireRoot(t)
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	tb, err := testbed.Up(context.Background(), testbed.UpOptions{Prefix: testbed.UniqueName("pltest"), StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Down()
	vm0, vm1, vm2 := tb.Host(testbed.VM0), tb.Host(testbed.VM1), tb.Host(testbed.VM2)

	for _, c := range []struct {
		from *testbed.Namespace
		to   string
	}{{vm0, "198.18.0.3"}, {vm0, "198.18.1.3"}, {vm2, "198.18.2.3"}, {vm2, "198.18.3.3"}, {vm1, "198.18.2.2"}} {
		if err := ping(c.from, c.to); err != nil {
			t.Errorf("%s → %s: %v", c.from.Name, c.to, err)
		}
	}
	for i, spec := range testbed.Nets {
		from, to := tb.Host(spec.Left.Host), tb.Host(spec.Right.Host)
		if got := udpExchange(t, from, spec.Left.Addr.Addr().String(), to, spec.Right.Addr.Addr().String(), 20); got != 20 {
			t.Errorf("%s: %d of 20 UDP datagrams crossed", spec.Name, got)
		}
		if s := tb.Emulator(i).Stats(); s.AB.Delivered < 20 || s.BA.Delivered == 0 {
			t.Errorf("%s emulator did not carry the traffic: %+v", spec.Name, s)
		}
	}
	for _, to := range []string{"198.18.2.3", "198.18.2.2", "198.18.3.2"} {
		if err := ping(vm0, to); err == nil {
			t.Errorf("VM0 reaches %s directly; the networks must not be routed", to)
		}
	}
	if off, err := vm0.Run("ethtool", "-k", "eth0"); err == nil && !strings.Contains(off, "tx-checksumming: off") {
		t.Errorf("VM0 eth0 keeps tx checksum offload:\n%s", off)
	}
	if v, err := vm2.Run("sysctl", "-n", "net.ipv6.conf.all.disable_ipv6"); err != nil || strings.TrimSpace(v) != "1" {
		t.Errorf("IPv6 not disabled in VM2: %q %v", v, err)
	}

	r, err := testbed.Status(tb.Prefix, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Running() || r.EmulatorPID != os.Getpid() || len(r.Nets) != 4 {
		t.Errorf("status of a running testbed: %+v", r)
	}
	if links := linkNames(r, tb.Prefix+"-vm1"); links != "eth0,eth1,eth2,eth3,lo" {
		t.Errorf("VM1 links %s", links)
	}
	if _, err := testbed.Up(context.Background(), testbed.UpOptions{Prefix: tb.Prefix, StateDir: dir}); !errors.Is(err, testbed.ErrAlreadyUp) {
		t.Errorf("second Up with the same prefix: %v, want ErrAlreadyUp", err)
	}

	if err := tb.Down(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Down(); err != nil {
		t.Fatalf("second Down: %v", err)
	}
	assertGone(t, tb.Prefix, dir)
	waitGoroutines(t, before)
}

func linkNames(r *testbed.StatusReport, ns string) string {
	var names []string
	for _, n := range r.Namespaces {
		if n.Name == ns {
			for _, l := range n.Links {
				names = append(names, l.Name)
			}
		}
	}
	slicesSort(names)
	return strings.Join(names, ",")
}

func TestUpFailureLeavesNothing(t *testing.T) {
	nstest.RequireRoot(t)
	defer testbed.SetUpFault(nil)
	for _, step := range []string{"namespaces", "links", "emulators", "done"} {
		t.Run(step, func(t *testing.T) {
			before := runtime.NumGoroutine()
			dir := t.TempDir()
			prefix := testbed.UniqueName("pltest")
			injected := errors.New("injected failure")
			testbed.SetUpFault(func(s string) error {
				if s == step {
					return injected
				}
				return nil
			})
			tb, err := testbed.Up(context.Background(), testbed.UpOptions{Prefix: prefix, StateDir: dir})
			if !errors.Is(err, injected) {
				if tb != nil {
					tb.Down()
				}
				t.Fatalf("Up with a failure at %s: %v", step, err)
			}
			assertGone(t, prefix, dir)
			waitGoroutines(t, before)
		})
	}
}

func TestUpCancelledLeavesNothing(t *testing.T) {
	nstest.RequireRoot(t)
	defer testbed.SetUpFault(nil)
	ctx, cancel := context.WithCancel(context.Background())
	// Ctrl-C arrives while the links are being built.
	testbed.SetUpFault(func(s string) error {
		if s == "emulators" {
			cancel()
		}
		return nil
	})
	dir, prefix := t.TempDir(), testbed.UniqueName("pltest")
	if _, err := testbed.Up(ctx, testbed.UpOptions{Prefix: prefix, StateDir: dir}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Up cancelled: %v", err)
	}
	assertGone(t, prefix, dir)
}

func TestPersistentTestbedRunsEmulatorProcess(t *testing.T) {
	nstest.RequireRoot(t)
	dir, prefix := t.TempDir(), testbed.UniqueName("pltest")
	tb, err := testbed.Up(context.Background(), testbed.UpOptions{
		Prefix: prefix, StateDir: dir, Persistent: true, EmulatorCommand: selfEmulator,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tb.Down() })
	if tb.Emulator(0) != nil {
		t.Error("persistent testbed runs an emulator in-process")
	}
	if err := ping(tb.Host(testbed.VM0), "198.18.1.3"); err != nil {
		t.Errorf("through the emulator process: %v", err)
	}
	r, err := testbed.Status(prefix, dir)
	if err != nil {
		t.Fatal(err)
	}
	pid := r.EmulatorPID
	if !r.Running() || !r.Persistent || pid == os.Getpid() || pid == 0 {
		t.Fatalf("status: %+v", r)
	}
	// A fresh process brings it down by name: the package-level Down.
	if err := testbed.Down(prefix, dir); err != nil {
		t.Fatal(err)
	}
	assertGone(t, prefix, dir)
	if err := syscall.Kill(pid, 0); err == nil {
		if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(st), ") Z ") {
			t.Errorf("emulator process %d still running", pid)
		}
	}
	if err := testbed.Down(prefix, dir); err != nil {
		t.Errorf("Down of a testbed already down: %v", err)
	}
}

func TestPersistentTestbedEmulatorFailureLeavesNothing(t *testing.T) {
	nstest.RequireRoot(t)
	dir, prefix := t.TempDir(), testbed.UniqueName("pltest")
	_, err := testbed.Up(context.Background(), testbed.UpOptions{
		Prefix: prefix, StateDir: dir, Persistent: true,
		EmulatorCommand: func(string, string) *exec.Cmd { return exec.Command("false") },
	})
	if err == nil || !strings.Contains(err.Error(), "emulator process") {
		t.Fatalf("Up with an emulator that exits: %v", err)
	}
	assertGone(t, prefix, dir)
}
