package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/stream"
)

// Keys on reload, in the keyed router testbed: the router runs from a
// config file that allows robot A (VM0) and, after a SIGHUP, robot B
// (VM2); A and B run as in keyed_e2e_test.go. Both robots run all along,
// so B keeps knocking (its initiations refused) until it is allowed.

const (
	refusedKey   = "session: key not allowed"
	refusedIndex = "session: unknown receiver index"
)

// keyedReloadNet is the router testbed whose router reads its keys from
// a config file.
type keyedReloadNet struct {
	*routerNet
	a, r, b keyPair
	file    string // the router's config file
	fileA   string // robot A's
}

// writeKeys writes the router's config file: its key (unless a line
// gives one) and the lines given.
func (kn *keyedReloadNet) writeKeys(t *testing.T, lines ...string) {
	t.Helper()
	body := strings.Join(lines, "\n") + "\n"
	if !strings.HasPrefix(body, "key =") {
		body = "key = \"" + kn.r.file + "\"\n" + body
	}
	must(t, os.WriteFile(kn.file, []byte(body), 0o644))
}

// writeA writes robot A's config file: its key and the router's key.
func (kn *keyedReloadNet) writeA(t *testing.T, peerKey string) {
	t.Helper()
	must(t, os.WriteFile(kn.fileA, []byte("key = \""+kn.a.file+"\"\npeer-key = \""+peerKey+"\"\n"), 0o644))
}

// hupA writes A's config file with peerKey and reloads A.
func (kn *keyedReloadNet) hupA(t *testing.T, peerKey string) int64 {
	t.Helper()
	kn.writeA(t, peerKey)
	before := strings.Count(kn.vm0.out.String(), "reloaded")
	at := stream.Now()
	must(t, kn.vm0.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, "A to log its reload", 5*time.Second, func() bool { return strings.Count(kn.vm0.out.String(), "reloaded") > before })
	return at
}

func (kn *keyedReloadNet) allowA() string { return kn.a.pub + "=" + vipVM0 }
func (kn *keyedReloadNet) allowB() string { return kn.b.pub + "=" + vipVM2 }

// hup writes the router's config file, sends it SIGHUP and waits until
// the reload is logged; it returns when the signal went (stream.Now's
// clock).
func (kn *keyedReloadNet) hup(t *testing.T, logged string, lines ...string) int64 {
	t.Helper()
	kn.writeKeys(t, lines...)
	before := strings.Count(kn.vm1.out.String(), logged)
	at := stream.Now()
	must(t, kn.vm1.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, "the router to log "+logged, 5*time.Second, func() bool { return strings.Count(kn.vm1.out.String(), logged) > before })
	return at
}

func newKeyedReloadNet(t *testing.T) *keyedReloadNet {
	dir := t.TempDir()
	kn := &keyedReloadNet{a: genKey(t, dir, "a"), r: genKey(t, dir, "router"), b: genKey(t, dir, "b"),
		file: filepath.Join(dir, "router.toml"), fileA: filepath.Join(dir, "a.toml")}
	kn.writeKeys(t, "allow = [\""+kn.allowA()+"\"]")
	kn.writeA(t, kn.r.pub)
	kn.routerNet = startRouterNet(t, []string{"--config", kn.file},
		[]string{"--config", kn.fileA},
		[]string{"--key", kn.b.file, "--peer-key", kn.r.pub})
	waitFor(t, "A's two paths up at both ends", 5*time.Second, func() bool {
		return kn.vm1.upPaths(vipVM0) == 2 && kn.vm0.upPaths(vipRouter) == 2
	})
	waitFor(t, "B's initiations refused", 5*time.Second, func() bool { return kn.vm1.status().Keyed.Dropped[refusedKey] > 0 })
	return kn
}

// toRouter is a 500 packet/s stream from ns to the router's own virtual
// address.
func (kn *keyedReloadNet) toRouter(t *testing.T, from testbed.Host, port int, d time.Duration) func() stream.Outcome {
	return runStream(t, udpFlow(t, "to the router", kn.top.Host(from), kn.top.Host(testbed.VM1), vipRouter, port,
		stream.AudioProfile(routerStreamRate, 200, d)))
}

// lastArrival is the latest arrival of o (stream.Now's clock), 0 if none.
func lastArrival(o stream.Outcome) int64 {
	var last int64
	for _, a := range o.Capture.Arrivals {
		last = max(last, a.RecvNS)
	}
	return last
}

// TestReloadKeysMidStream: SIGHUP adds B's key while A streams (B joins
// within a second, A loses nothing); an --allow change moving A to
// another address makes A's packets "not covered"; a broken file and a
// new own key are refused with the keys kept; A's own --peer-key changed
// away and back drops the router and rejoins it; SIGHUP removing A's key
// while A and B stream stops A's packets within a second, counted as
// refused, and B loses nothing.
func TestReloadKeysMidStream(t *testing.T) {
	kn := newKeyedReloadNet(t)
	if n := kn.vm1.status().Keyed.AllowedKeys; n != 1 || hasHost(kn.vm1, vipVM2) {
		t.Fatalf("router allows %d keys, has B: %v; want A's key only", n, hasHost(kn.vm1, vipVM2))
	}

	// (a) B allowed while A streams.
	waitA := kn.toRouter(t, testbed.VM0, 6201, 3*time.Second)
	time.Sleep(time.Second)
	hup := kn.hup(t, "reloaded", "allow = [\""+kn.allowA()+"\", \""+kn.allowB()+"\"]")
	waitFor(t, "B joined: a path up at both ends", 5*time.Second, func() bool {
		return kn.vm1.upPaths(vipVM2) >= 1 && kn.vm2.upPaths(vipRouter) >= 1
	})
	joined := time.Duration(stream.Now() - hup)
	t.Logf("B's first path up at both ends %v after SIGHUP (B retries its initiation every 250 ms; includes status polling)", joined.Round(time.Millisecond))
	if joined > time.Second {
		t.Errorf("B joined %v after SIGHUP, want within a second", joined)
	}
	if r := waitA().Analyze(stream.Options{}); r.Sent == 0 || r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("A's stream across the reload adding B: sent %d lost %d duplicates %d", r.Sent, r.Lost, r.Duplicates)
	}
	kn.waitAllUp(t, 5*time.Second)

	// (c) A's --allow moved to another address: its packets, from its
	// own address, are no longer covered by its key.
	const elsewhere = "198.19.0.9"
	before := kn.vm1.status().Keyed
	waitA = kn.toRouter(t, testbed.VM0, 6202, 2*time.Second)
	time.Sleep(500 * time.Millisecond)
	hup = kn.hup(t, "reloaded", "allow = [\""+kn.a.pub+"="+elsewhere+"\", \""+kn.allowB()+"\"]")
	o := waitA()
	r := o.Analyze(stream.Options{})
	after := kn.vm1.status().Keyed
	notCovered := after.NotCovered - before.NotCovered
	late := time.Duration(lastArrival(o) - hup)
	t.Logf("A moved to %s: sent %d received %d, last delivered %v after SIGHUP; router counted %d not covered, %d wrong host",
		elsewhere, r.Sent, r.Received, late.Round(time.Millisecond), notCovered, after.WrongHost-before.WrongHost)
	if late > time.Second || r.Received >= r.Sent || notCovered < r.Sent-r.Received {
		t.Fatalf("after moving A's key to %s: received %d of %d, last %v after SIGHUP, %d counted not covered", elsewhere, r.Received, r.Sent, late, notCovered)
	}
	if hasHost(kn.vm1, vipVM0) {
		t.Errorf("router still has host %s after its key moved to %s", vipVM0, elsewhere)
	}
	kn.hup(t, "reloaded", "allow = [\""+kn.allowA()+"\", \""+kn.allowB()+"\"]")
	kn.waitAllUp(t, 5*time.Second)

	// (d) A broken file, and a new key of the router's own: refused, the
	// keys kept.
	for _, c := range []struct{ line, log string }{
		{"allow = [\"" + kn.allowA() + "\"", "reload refused, running configuration kept"},
		{"allow = [\"" + kn.allowA() + "\", \"" + kn.b.pub + "=not-an-address\"]", "reload refused, running configuration kept"},
		{"key = \"" + genKey(t, t.TempDir(), "router2").file + "\"\nallow = [\"" + kn.allowA() + "\", \"" + kn.allowB() + "\"]", "these settings need a restart"},
	} {
		kn.hup(t, c.log, c.line)
		if n := kn.vm1.status().Keyed.AllowedKeys; n != 2 || kn.vm1.upPaths(vipVM0) != 2 || kn.vm1.upPaths(vipVM2) != 2 {
			t.Fatalf("after a refused reload (%s): %d keys allowed, paths up to A %d, to B %d; want the running keys", c.line, n, kn.vm1.upPaths(vipVM0), kn.vm1.upPaths(vipVM2))
		}
	}
	t.Logf("router log:\n%s", lastLines(kn.vm1.out.String(), 3))

	// (e) A's --peer-key changed to a key that is not the router's: A
	// drops the router at once; changed back, A rejoins under a new
	// handshake within a second.
	kn.hupA(t, kn.b.pub)
	if hasHost(kn.vm0, vipRouter) {
		t.Fatalf("A still has the router as a host after its --peer-key changed")
	}
	// A refuses the router's probes now: the router sees A's paths fall.
	waitFor(t, "the router's paths to A down", 5*time.Second, func() bool { return kn.vm1.upPaths(vipVM0) == 0 })
	hup = kn.hupA(t, kn.r.pub)
	waitFor(t, "A back with the router: two paths up at both ends", 5*time.Second, func() bool {
		return kn.vm0.upPaths(vipRouter) == 2 && kn.vm1.upPaths(vipVM0) == 2
	})
	back := time.Duration(stream.Now() - hup)
	t.Logf("A's --peer-key restored: both paths up at both ends %v after SIGHUP", back.Round(time.Millisecond))
	if back > time.Second {
		t.Errorf("A rejoined %v after its --peer-key was restored, want within a second", back)
	}

	// (b) A's key removed while A and B stream.
	before = kn.vm1.status().Keyed
	waitA = kn.toRouter(t, testbed.VM0, 6203, 3*time.Second)
	waitB := kn.toRouter(t, testbed.VM2, 6204, 3*time.Second)
	time.Sleep(time.Second)
	hup = kn.hup(t, "reloaded", "allow = [\""+kn.allowB()+"\"]")
	oa, ob := waitA(), waitB()
	ra, rb := oa.Analyze(stream.Options{}), ob.Analyze(stream.Options{})
	after = kn.vm1.status().Keyed
	refused := after.Dropped[refusedIndex] - before.Dropped[refusedIndex]
	late = time.Duration(lastArrival(oa) - hup)
	t.Logf("A's key removed mid-stream: A sent %d, %d delivered, the last %v after SIGHUP; router refused %d of A's messages as unknown index, %d initiations as key not allowed; B sent %d lost %d",
		ra.Sent, ra.Received, late.Round(time.Millisecond), refused, after.Dropped[refusedKey]-before.Dropped[refusedKey], rb.Sent, rb.Lost)
	if late > time.Second || ra.Received >= ra.Sent {
		t.Errorf("A's packets delivered until %v after its key was removed (%d of %d), want none after a second", late, ra.Received, ra.Sent)
	}
	if refused < ra.Sent-ra.Received {
		t.Errorf("router counted %d refused, fewer than A's %d undelivered packets", refused, ra.Sent-ra.Received)
	}
	if rb.Sent == 0 || rb.Lost != 0 || rb.Duplicates != 0 {
		t.Errorf("B's stream across A's removal: sent %d lost %d duplicates %d, want nothing lost", rb.Sent, rb.Lost, rb.Duplicates)
	}
	if hasHost(kn.vm1, vipVM0) || kn.vm1.status().Keyed.AllowedKeys != 1 {
		t.Errorf("router still has A (%v) or allows %d keys after A's removal", hasHost(kn.vm1, vipVM0), kn.vm1.status().Keyed.AllowedKeys)
	}
}
