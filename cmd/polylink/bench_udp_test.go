package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed/stream"
)

// BenchmarkUDPvsRawCPUPerPacket runs a raw IP-in-IP pair and a UDP pair
// side by side, each streaming evenly paced 200-byte packets A → B at the
// same rate at the same time over two veth links (the UDP stream half a
// packet interval after the raw one, see cpuSideBySide), and reports each
// pair's daemon CPU per delivered packet, their ratio (issue 12's target:
// UDP ≤ 1.1 × raw) and each pair's loss. Side by side, two pairs and two
// senders share this machine's two cores, so loss at high rates is
// measured by BenchmarkUDPvsRawLossless, one pair at a time:
//
//	go test -run '^$' -bench UDPvsRaw -benchtime 1x ./cmd/polylink
func BenchmarkUDPvsRawCPUPerPacket(b *testing.B) {
	for _, rate := range []float64{1_000, 10_000} {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) {
			raw := newTwoNodes(b, "--probe", "100ms")
			udp := newTwoNodesUDP(b, "--probe", "100ms")
			us, loss := cpuSideBySide(b, [2]*twoNodes{raw, udp}, [2]string{"raw", "UDP"}, rate, 200, 8100)
			b.ReportMetric(us[0], "raw_us/pkt")
			b.ReportMetric(us[1], "udp_us/pkt")
			b.ReportMetric(us[1]/us[0], "udp/raw")
			b.ReportMetric(100*loss[0], "raw_loss_%")
			b.ReportMetric(100*loss[1], "udp_loss_%")
		})
	}
}

// BenchmarkUDPvsRawLossless streams evenly paced 200-byte packets over a
// raw pair, then over a UDP pair (one at a time, in one run), at rates up
// to 50,000 packet/s, and reports each one's loss and CPU per packet.
func BenchmarkUDPvsRawLossless(b *testing.B) {
	for _, rate := range []float64{30_000, 40_000, 50_000} {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) {
			rawA, udpA := []string{"--probe", "100ms"}, []string{"--probe", "100ms"}
			if dir := os.Getenv("POLYLINK_BENCH_PROFILE"); dir != "" { // the sending daemons' CPU profiles
				rawA = append(rawA, "--cpuprofile", filepath.Join(dir, "raw.pprof"))
				udpA = append(udpA, "--cpuprofile", filepath.Join(dir, "udp.pprof"))
			}
			raw := newTwoNodesWith(b, rawA, []string{"--probe", "100ms"})
			udp := newTwoNodesUDPWith(b, udpA, []string{"--probe", "100ms"})
			var loss, us [2]float64
			for i := 0; i < b.N; i++ {
				for k, tn := range []*twoNodes{raw, udp} {
					flow := udpFlowB(b, tn, 8200+2*i+k, stream.AudioProfile(rate, 200, 3*time.Second))
					c0 := tn.daemonCPU()
					ka0, kb0 := readKernelDrops(tn.a), readKernelDrops(tn.b)
					res, err := stream.Measure(b.Context(), []stream.Flow{flow}, stream.Options{})
					if err != nil {
						b.Fatal(err)
					}
					d := tn.daemonCPU() - c0
					if res[0].Received == 0 {
						b.Fatalf("%s pair delivered nothing", []string{"raw", "udp"}[k])
					}
					// Where the loss is: before the sender's daemon read its TUN
					// (the TUN's queue overflowed), in its link queues, at the
					// socket, or after.
					as, bs := tn.na.status(), tn.nb.status()
					ka, kb := readKernelDrops(tn.a).sub(ka0), readKernelDrops(tn.b).sub(kb0)
					b.Logf("rate %.0f: %s pair: kernel A: %v; kernel B: %v", rate, []string{"raw", "UDP"}[k], ka, kb)
					b.Logf("rate %.0f: %s pair delivered %d of %d (lost %d) at %.1f µs/packet; A read %d from its TUN, queue drops %d, send errors %d; B wrote %d to its TUN",
						rate, []string{"raw", "UDP"}[k], res[0].Received, res[0].Sent, res[0].Lost, d/float64(res[0].Received)*1e6,
						as.Router.Counters.TUNRead, as.Counters.QueueDrops, as.Counters.SendErrors, bs.Router.Counters.TUNWritten)
					loss[k] += res[0].LossRatio
					us[k] += d / float64(res[0].Received) * 1e6
				}
			}
			n := float64(b.N)
			b.ReportMetric(100*loss[0]/n, "raw_loss_%")
			b.ReportMetric(100*loss[1]/n, "udp_loss_%")
			b.ReportMetric(us[0]/n, "raw_us/pkt")
			b.ReportMetric(us[1]/n, "udp_us/pkt")
		})
	}
}
