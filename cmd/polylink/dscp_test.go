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
// carry IP-in-IP copies whose outer header is marked EF too.
func TestEFMarkLeavesOnEveryPath(t *testing.T) {
	tn := newTwoNodes(t)
	var dumps []*tcpdump
	for _, dev := range []string{"eth0", "eth1"} {
		// Outer header: IP-in-IP from A, DSCP EF (ECN bits ignored).
		dumps = append(dumps, startTcpdump(t, tn.b, dev, 5,
			fmt.Sprintf("ip proto 4 and src host %s and (ip[1] & 0xfc) == 0xb8", map[string]string{"eth0": tn.underlay[0][0], "eth1": tn.underlay[1][0]}[dev])))
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
