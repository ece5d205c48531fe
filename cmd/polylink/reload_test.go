package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polylink/polylink/session"
	"github.com/polylink/polylink/testbed/nstest"
	"github.com/polylink/polylink/testbed/stream"
)

func TestFixedChangesNamesTheFlags(t *testing.T) {
	parse := func(args ...string) runConfig {
		c, err := parseRunFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := []string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3"}
	a := parse(base...)
	live := parse(append(base, "--peer", "198.18.1.3", "--probe", "50ms", "--exclude", "docker*")...)
	if got := fixedChanges(a, live); len(got) != 0 {
		t.Errorf("peers, probe and exclude changed: fixedChanges says %v must restart", got)
	}
	pub := func() string {
		k, err := session.GeneratePrivateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k.PublicKey().String()
	}
	keyed := append(base, "--key", "/nonexistent", "--peer-key", pub())
	more := append(keyed[:len(keyed):len(keyed)], "--allow", pub()+"=198.19.0.7", "--route", "198.19.50.0/24=198.19.0.7")
	if got := fixedChanges(parse(keyed...), parse(more...)); len(got) != 0 {
		t.Errorf("--allow and --route changed: fixedChanges says %v must restart", got)
	}
	fixed := parse("--vip", "198.19.0.3/24", "--peer", "198.18.0.3", "--tun", "pl1", "--router", "--mtu", "1400")
	got := strings.Join(fixedChanges(a, fixed), " ")
	for _, want := range []string{"vip", "tun", "router", "mtu", "control"} {
		if !strings.Contains(got, want) {
			t.Errorf("fixedChanges %q lacks %s", got, want)
		}
	}
}

// TestReloadAddsPeerMidStream: SIGHUP after adding a second address of the
// router node to the config file brings its path up within a second while
// a stream runs, and the stream loses nothing. A broken file or a change
// that needs a restart is refused with a log line; the daemon keeps
// running on what it had.
func TestReloadAddsPeerMidStream(t *testing.T) {
	nstest.RequireRoot(t)
	a, b := nstest.Namespace(t, "pl-hup-a"), nstest.Namespace(t, "pl-hup-b")
	nstest.Veth(t, a, "eth0", "198.18.100.1/24", b, "eth0", "198.18.100.2/24")
	nstest.Veth(t, a, "eth1", "198.18.101.1/24", b, "eth1", "198.18.101.2/24")
	file := filepath.Join(t.TempDir(), "pl0.toml")
	write := func(body string) { must(t, os.WriteFile(file, []byte(body), 0o644)) }
	const head = "vip = \"198.19.100.1/24\"\nprobe = \"50ms\"\n"
	write(head + "peer = [\"198.18.100.2\"]\n")
	na := startNode(t, a, "--config", file)
	// The router node knows no peer: only A's configuration decides
	// which of its addresses A reaches.
	startNode(t, b, "--vip", "198.19.100.2/24", "--router", "--probe", "50ms")
	waitFor(t, "the first path up", 5*time.Second, func() bool { return na.upPaths("198.19.100.2") == 1 })
	time.Sleep(300 * time.Millisecond)
	if up := na.upPaths("198.19.100.2"); up != 1 {
		t.Fatalf("%d paths up with one peer address configured, want 1", up)
	}

	flow := udpFlow(t, "polylink", a, b, "198.19.100.2", 5020, stream.AudioProfile(500, 200, 3*time.Second))
	wait := measureInBackground(flow)
	time.Sleep(time.Second)
	write(head + "peer = [\"198.18.100.2\", \"198.18.101.2\"]\n")
	hup := time.Now()
	must(t, na.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, "the new peer address's path up", 5*time.Second, func() bool { return na.upPaths("198.19.100.2") == 2 })
	took := time.Since(hup)
	t.Logf("second path up %v after SIGHUP (probe interval 50 ms; includes status polling)", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("second path up %v after SIGHUP, want within a second", took)
	}
	if r := wait(t); r.Lost != 0 || r.Duplicates != 0 || r.Received != r.Sent {
		t.Fatalf("stream across the reload: sent %d received %d lost %d duplicates %d", r.Sent, r.Received, r.Lost, r.Duplicates)
	}

	// The traffic policy applies live too.
	before := strings.Count(na.out.String(), "\"applied\": [\"policy\"]")
	write(head + "peer = [\"198.18.100.2\", \"198.18.101.2\"]\nredundancy = \"all\"\nmetered = [\"eth1\"]\n")
	must(t, na.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, "the policy reload logged", 5*time.Second, func() bool {
		return strings.Count(na.out.String(), "\"applied\": [\"policy\"]") > before
	})
	if st := na.status(); st.Policy.Redundancy != "all" || len(st.Policy.Metered) != 1 || na.upPaths("198.19.100.2") != 2 {
		t.Fatalf("after reloading the policy: redundancy %q metered %v, %d paths up", st.Policy.Redundancy, st.Policy.Metered, na.upPaths("198.19.100.2"))
	}

	for _, c := range []struct{ body, log string }{
		{head + "peer = [\"198.18.100.2\"\n", "reload refused, running configuration kept"},
		{"vip = \"198.19.100.9/24\"\nprobe = \"50ms\"\npeer = [\"198.18.100.2\"]\n", "these settings need a restart"},
	} {
		before := strings.Count(na.out.String(), c.log)
		write(c.body)
		must(t, na.cmd.Process.Signal(syscall.SIGHUP))
		waitFor(t, "the refusal logged", 5*time.Second, func() bool { return strings.Count(na.out.String(), c.log) > before })
		st := na.status()
		if len(st.Peers) != 2 || na.upPaths("198.19.100.2") != 2 || st.TUN.Addr != "198.19.100.1/24" {
			t.Fatalf("after a refused reload: peers %v, tun %+v; want the running configuration", st.Peers, st.TUN)
		}
	}
	t.Logf("log:\n%s", lastLines(na.out.String(), 3))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
