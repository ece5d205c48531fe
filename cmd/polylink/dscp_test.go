package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
)

// TestEFMarkLeavesOnEveryPath pings through the tunnel with the EF mark
// (TOS 0xb8) and watches both underlay links with tcpdump: every path must
// carry copies whose outer header is marked EF too, over raw IP-in-IP and
// UDP, keyless and keyed (issue 12: the sealed bundle hides the inner
// header, so the engine hands the links the DSCP).
func TestEFMarkLeavesOnEveryPath(t *testing.T) {
	keyed := func(t *testing.T) (a, b []string) {
		dir := t.TempDir()
		ka, kb := genKey(t, dir, "a"), genKey(t, dir, "b")
		return []string{"--key", ka.file, "--peer-key", kb.pub}, []string{"--key", kb.file, "--peer-key", ka.pub}
	}
	for _, c := range []struct {
		name  string
		proto string // tcpdump's filter for the outer packets
		start func(t *testing.T) *twoNodes
	}{
		{"raw", "ip proto 4", func(t *testing.T) *twoNodes { return newTwoNodes(t) }},
		{"raw keyed", "ip proto 4", func(t *testing.T) *twoNodes { a, b := keyed(t); return newTwoNodesWith(t, a, b) }},
		{"udp keyed", "udp", func(t *testing.T) *twoNodes { a, b := keyed(t); return newTwoNodesUDPWith(t, a, b) }},
	} {
		t.Run(c.name, func(t *testing.T) { efOnEveryPath(t, c.start(t), c.proto) })
	}
}

// efOnEveryPath pings from A to B with EF and expects EF-marked outer
// packets (filter proto) from A on both of B's links.
func efOnEveryPath(t *testing.T, tn *twoNodes, proto string) {
	var dumps []*tcpdump
	for i, dev := range []string{"eth0", "eth1"} {
		// Outer header: from A, DSCP EF (ECN bits ignored).
		dumps = append(dumps, startTcpdump(t, tn.b, dev, 5,
			fmt.Sprintf("%s and src host %s and (ip[1] & 0xfc) == 0xb8", proto, tn.underlay[i][0])))
	}
	ping := tn.a.Command(context.Background(), "ping", "-n", "-q", "-Q", "0xb8", "-c", "40", "-i", "0.05", "-W", "1", tn.vipB)
	if out, err := ping.CombinedOutput(); err != nil {
		t.Fatalf("ping with EF through the tunnel: %v\n%s", err, out)
	}
	for _, d := range dumps {
		if got := d.wait(t); got < 5 {
			t.Errorf("%s: %d EF-marked IP-in-IP packets, want at least 5", d.dev, got)
		}
	}
}

// tcpdump is a tcpdump process counting packets that match a filter.
type tcpdump struct {
	dev  string
	done chan int
}

// startTcpdump runs tcpdump on dev in ns until it has seen count packets
// matching filter (or 10 s pass), and returns once it is capturing.
func startTcpdump(t *testing.T, ns *testbed.Namespace, dev string, count int, filter string) *tcpdump {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	cmd := ns.Command(ctx, "tcpdump", "-i", dev, "-n", "-l", "-c", fmt.Sprint(count), filter)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(listening)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	d := &tcpdump{dev: dev, done: make(chan int, 1)}
	go func() {
		n := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			n++
		}
		d.done <- n
	}()
	select {
	case <-listening:
	case <-time.After(5 * time.Second):
		t.Fatalf("tcpdump on %s did not start capturing", dev)
	}
	return d
}

// wait returns how many matching packets tcpdump printed before it ended.
func (d *tcpdump) wait(t *testing.T) int {
	t.Helper()
	select {
	case n := <-d.done:
		return n
	case <-time.After(15 * time.Second):
		t.Fatalf("tcpdump on %s never ended", d.dev)
	}
	return 0
}
