package main

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestECNAcrossTheTunnel (RFC 6040 normal mode, over raw IP-in-IP and
// UDP, keyless and keyed): an ECN-capable inner packet leaves with its ECN field on every
// outer copy; B's nftables marks every arriving outer copy CE, as a
// congested router would, and B's daemon carries the mark into the inner
// packet it writes to its TUN; an inner packet that is not ECN-capable
// cannot carry the mark, so it is dropped and counted.
func TestECNAcrossTheTunnel(t *testing.T) {
	for _, c := range []struct {
		name, outer string // outer: tcpdump's and nft's match for the outer packets
		start       func(t *testing.T) *twoNodes
	}{
		{"raw", "ip proto 4", func(t *testing.T) *twoNodes { return newTwoNodes(t) }},
		{"udp", "udp dst port " + natPort, func(t *testing.T) *twoNodes { return newTwoNodesUDP(t, "--probe", "50ms") }},
		{"udp keyed", "udp dst port " + natPort, func(t *testing.T) *twoNodes {
			dir := t.TempDir()
			ka, kb := genKey(t, dir, "a"), genKey(t, dir, "b")
			return newTwoNodesUDPWith(t, []string{"--probe", "50ms", "--key", ka.file, "--peer-key", kb.pub},
				[]string{"--probe", "50ms", "--key", kb.file, "--peer-key", ka.pub})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tn := c.start(t)
			var outer []*tcpdump
			for i, dev := range []string{"eth0", "eth1"} {
				// Outer copies from A with ECT(0), as the inner packet.
				outer = append(outer, startTcpdump(t, tn.b, dev, 5,
					fmt.Sprintf("%s and src host %s and (ip[1] & 3) == 2", c.outer, tn.underlay[i][0])))
			}
			inner := startTcpdump(t, tn.b, "pl0", 5, "icmp and (ip[1] & 3) == 3")
			ping := func(tos string, count int) error {
				args := []string{"-n", "-q", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "1", tn.vipB}
				if tos != "" {
					args = append([]string{"-Q", tos}, args...)
				}
				out, err := tn.a.Command(context.Background(), "ping", args...).CombinedOutput()
				if err != nil {
					return fmt.Errorf("%v\n%s", err, out)
				}
				return nil
			}
			// The tunnel carries data first (a keyed pair may still be
			// finishing its handshake), then B's "congested router" marks.
			waitFor(t, "a ping through the tunnel", 10*time.Second, func() bool { return ping("0x02", 1) == nil })
			nftRule := "udp dport " + natPort
			if c.name == "raw" {
				nftRule = "ip protocol 4"
			}
			for _, cmd := range [][]string{
				{"add", "table", "ip", "plecn"},
				{"add", "chain", "ip", "plecn", "pre", "{ type filter hook prerouting priority -300; }"},
				{"add", "rule", "ip", "plecn", "pre", nftRule, "ip", "ecn", "set", "ce"},
			} {
				if out, err := tn.b.Run("nft", cmd...); err != nil {
					t.Fatalf("nft %v: %v\n%s", cmd, err, out)
				}
			}
			if err := ping("0x02", 20); err != nil { // ECT(0)
				t.Fatalf("ping with ECT(0) through the tunnel: %v\nA: %+v\nB: %+v", err, tn.na.status().Counters, tn.nb.status().Counters)
			}
			for _, d := range outer {
				if got := d.wait(t); got < 5 {
					t.Errorf("%s: %d outer copies from A with ECT(0), want at least 5", d.dev, got)
				}
			}
			if got := inner.wait(t); got < 5 {
				t.Errorf("B's TUN: %d echo requests marked CE, want at least 5", got)
			}
			if got := tn.nb.status().Counters.ECNMarked; got < 5 {
				t.Errorf("B's ecn_ce_marked = %d, want at least 5", got)
			}
			// Not ECN-capable: the marked copy cannot pass the mark on.
			if err := ping("", 5); err == nil {
				t.Errorf("ping without ECT through outer copies marked CE got answers; the copies should be dropped")
			}
			waitFor(t, "B counts the dropped copies", 5*time.Second, func() bool { return tn.nb.status().Counters.ECNDropped >= 5 })
		})
	}
}
