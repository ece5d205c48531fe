package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"github.com/polylink/polylink/testbed/stream"
)

// binary is the polylink binary the end-to-end tests run, built once.
var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

func polylinkBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "polylink-e2e-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "polylink")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// node is one polylink daemon running inside a namespace.
type node struct {
	t       testing.TB
	ns      *testbed.Namespace
	args    []string
	control string
	cmd     *exec.Cmd
	out     *syncBuffer
	wrap    []string // runs the binary through this (setpriv …); none if empty
	bin     string   // the binary; polylinkBinary if empty
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNode runs `polylink run ARGS` in ns and waits until it answers
// status. The daemon is stopped (by PID) when the test ends.
func startNode(t testing.TB, ns *testbed.Namespace, args ...string) *node {
	t.Helper()
	return startNodeWith(t, &node{t: t, ns: ns, args: args, control: filepath.Join(t.TempDir(), "ctl.sock")})
}

// startNodeWith starts the daemon n describes (see startNode).
func startNodeWith(t testing.TB, n *node) *node {
	t.Helper()
	t.Cleanup(func() { // before start: a daemon that never answers is stopped too
		n.stop()
		if t.Failed() && n.out != nil {
			t.Logf("log of polylink in %s:\n%s", n.ns.Name, n.out.String())
		}
	})
	n.start()
	return n
}

func (n *node) start() {
	n.t.Helper()
	n.out = &syncBuffer{}
	args := append([]string{"run", "--control", n.control}, n.args...)
	if n.control == "" { // the daemon's default, in its namespace
		args = append([]string{"run"}, n.args...)
		n.control = defaultControlPathIn(n.ns, "pl0")
	}
	bin := n.bin
	if bin == "" {
		bin = polylinkBinary(n.t)
	}
	argv := append(append(append([]string{}, n.wrap...), bin), args...)
	n.cmd = n.ns.Command(context.Background(), argv[0], argv[1:]...)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	waitFor(n.t, "daemon in "+n.ns.Name+" answers status", 10*time.Second, func() bool {
		_, err := queryControl(n.control)
		return err == nil
	})
}

// stop ends the daemon with SIGTERM (SIGKILL after 5 s) and waits for it.
func (n *node) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			n.t.Errorf("polylink in %s exited with %v", n.ns.Name, err)
		}
	case <-time.After(5 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
		n.t.Errorf("polylink in %s did not stop within 5 s of SIGTERM", n.ns.Name)
	}
	n.cmd = nil
}

func (n *node) status() statusDoc {
	n.t.Helper()
	raw, err := queryControl(n.control)
	if err != nil {
		n.t.Fatal(err)
	}
	var d statusDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		n.t.Fatal(err)
	}
	return d
}

// upPaths counts the node's connections in state 2 to host vip.
func (n *node) upPaths(vip string) int {
	count := 0
	for _, h := range n.status().Hosts {
		if h.VIP == vip {
			for _, c := range h.Connections {
				if c.State == 2 {
					count++
				}
			}
		}
	}
	return count
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// twoNodes is two namespaces joined by two veth links, with a daemon in
// each: A (198.19.90.1) and B (198.19.90.2).
type twoNodes struct {
	a, b     *testbed.Namespace
	na, nb   *node
	vipA     string
	vipB     string
	underlay [2][2]string // [link][A, B]
}

func newTwoNodes(t testing.TB, extra ...string) *twoNodes {
	t.Helper()
	return newTwoNodesWith(t, extra, extra)
}

// newTwoNodesWith is newTwoNodes with each daemon's own extra flags.
func newTwoNodesWith(t testing.TB, extraA, extraB []string) *twoNodes {
	t.Helper()
	probe := []string{"--probe", "50ms"} // before the extra flags, which may override it
	return newTwoNodesOver(t, "ipip", append(probe, extraA...), append(probe, extraB...))
}

// newTwoNodesUDP is newTwoNodes with the peers given as UDP endpoints
// (ADDR:PORT), so both paths run over UDP instead of raw IP-in-IP.
func newTwoNodesUDP(t testing.TB, extra ...string) *twoNodes {
	t.Helper()
	return newTwoNodesOver(t, "udp", extra, extra)
}

// newTwoNodesUDPWith is newTwoNodesUDP with each node's own extra flags.
func newTwoNodesUDPWith(t testing.TB, extraA, extraB []string) *twoNodes {
	t.Helper()
	return newTwoNodesOver(t, "udp", extraA, extraB)
}

// newTwoNodesOver starts the pair, each daemon given the other's two
// underlay addresses as peers (bare for encap "ipip", ADDR:PORT for
// "udp"), and waits until both paths are up over that encapsulation on
// both sides.
func newTwoNodesOver(t testing.TB, encap string, extraA, extraB []string) *twoNodes {
	t.Helper()
	nstest.RequireRoot(t)
	tn := &twoNodes{a: nstest.Namespace(t, "pl-e2e-a"), b: nstest.Namespace(t, "pl-e2e-b"),
		vipA: "198.19.90.1", vipB: "198.19.90.2",
		underlay: [2][2]string{{"198.18.90.1", "198.18.90.2"}, {"198.18.91.1", "198.18.91.2"}}}
	for i := range 2 {
		dev := fmt.Sprintf("eth%d", i)
		nstest.Veth(t, tn.a, dev, tn.underlay[i][0]+"/24", tn.b, dev, tn.underlay[i][1]+"/24")
	}
	peers := func(side int) []string {
		var out []string
		for i := range 2 {
			p := tn.underlay[i][side]
			if encap == "udp" {
				p += ":" + natPort
			}
			out = append(out, "--peer", p)
		}
		return out
	}
	tn.na = startNode(t, tn.a, append(append([]string{"--vip", tn.vipA + "/24"}, peers(1)...), extraA...)...)
	tn.nb = startNode(t, tn.b, append(append([]string{"--vip", tn.vipB + "/24"}, peers(0)...), extraB...)...)
	waitFor(t, "both "+encap+" paths up on A", 5*time.Second, func() bool { return upOver(tn.na, tn.vipB, encap) == 2 })
	waitFor(t, "both "+encap+" paths up on B", 5*time.Second, func() bool { return upOver(tn.nb, tn.vipA, encap) == 2 })
	return tn
}

// udpFlowB is a flow from A to B's virtual address over polylink.
func udpFlowB(t testing.TB, tn *twoNodes, port int, p stream.Profile) stream.Flow {
	return udpFlow(t, "polylink", tn.a, tn.b, tn.vipB, port, p)
}

// udpFlowTo is a flow from A to an address of B (a bare underlay address).
func udpFlowTo(t testing.TB, tn *twoNodes, dst string, port int, p stream.Profile) stream.Flow {
	return udpFlow(t, "bare", tn.a, tn.b, dst, port, p)
}

// udpFlow opens a stream from namespace from to dst:port in namespace to,
// closed when the test ends.
func udpFlow(t testing.TB, name string, from, to *testbed.Namespace, dst string, port int, p stream.Profile) stream.Flow {
	t.Helper()
	return udpFlowAt(t, name, from, to, dst, port, p, 0)
}

// udpFlowAt is udpFlow with its first packet due at start (CLOCK_MONOTONIC
// ns, see stream.Now; zero: when it starts).
func udpFlowAt(t testing.TB, name string, from, to *testbed.Namespace, dst string, port int, p stream.Profile, start int64) stream.Flow {
	t.Helper()
	f, closeFlow, err := testbed.OpenFlow(name, from, to, netip.MustParseAddr(dst), port, p, start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFlow)
	return f
}
