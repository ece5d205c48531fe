// Command paced-stream sends one evenly paced UDP stream from one network
// namespace to another and prints what arrived: the traffic
// scripts/compare-relays.sh runs through each relay it compares, so every
// relay carries the same stream (testbed/stream's sender: one packet every
// 1/RATE s on absolute CLOCK_MONOTONIC deadlines, not bursts).
//
// usage: paced-stream FROM_NS TO_NS DST_ADDR PORT RATE_PPS SECONDS SIZE
//
// It prints one line of key=value pairs: sent, received, lost, duplicates,
// latency p50_us and p99_us (one way: both namespaces share one clock) and
// the sender's own lateness against its schedule (pacing_p99_us).
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/stream"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "paced-stream:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 7 {
		return fmt.Errorf("usage: paced-stream FROM_NS TO_NS DST_ADDR PORT RATE_PPS SECONDS SIZE")
	}
	dst, err := netip.ParseAddr(args[2])
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	var nums [4]float64
	for i, a := range args[3:] {
		if nums[i], err = strconv.ParseFloat(a, 64); err != nil || nums[i] <= 0 {
			return fmt.Errorf("want a positive number, got %q", a)
		}
	}
	port, rate, seconds, size := int(nums[0]), nums[1], nums[2], int(nums[3])
	from, err := testbed.OpenNamespace(args[0])
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := testbed.OpenNamespace(args[1])
	if err != nil {
		return err
	}
	defer to.Close()

	p := stream.AudioProfile(rate, size, time.Duration(seconds*float64(time.Second)))
	flow, closeFlow, err := testbed.OpenFlow("stream", from, to, dst, port, p, 0)
	if err != nil {
		return err
	}
	defer closeFlow()
	res, err := stream.Measure(context.Background(), []stream.Flow{flow}, stream.Options{})
	if err != nil {
		return err
	}
	r := res[0]
	fmt.Printf("sent=%d received=%d lost=%d duplicates=%d p50_us=%.0f p99_us=%.0f pacing_p99_us=%.0f\n",
		r.Sent, r.Received, r.Lost, r.Duplicates, r.Latency.P50*1000, r.Latency.P99*1000, r.Pacing.P99US)
	return nil
}
