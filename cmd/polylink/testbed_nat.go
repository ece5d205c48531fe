package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/stream"
)

// scenarioNames lists what `testbed run` takes: the built-in scenarios on
// the VM topology and nat on its own.
func scenarioNames() string { return strings.Join(append(testbed.BuiltinNames(), "nat"), ", ") }

// testbedRunNAT runs the nat scenario (testbed.RunNAT) and prints what it
// showed: each robot's stream through a 3 s uplink cut and a NAT changing
// its public address, the server's NAT-mapped endpoints before and after,
// and raw IP-in-IP found blocked.
func testbedRunNAT(ctx context.Context, ra testbedRunArgs) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("testbed: find the polylink binary: %w", err)
	}
	progress := func(s string) { fmt.Fprintln(os.Stderr, s) }
	if ra.asJSON {
		progress = nil
	} else {
		fmt.Println("scenario nat: two robots, each with two uplinks behind the same two strict NATs (as carrier NAT on LTE), stream to a --router server over UDP through an uplink cut and a NAT re-addressing")
	}
	run, err := testbed.RunNAT(ctx, testbed.NATRunOptions{Binary: bin, Progress: progress})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("testbed nat: interrupted; every namespace, link and process it made is removed")
	}
	if err != nil {
		return fmt.Errorf("testbed run nat: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if ra.out == "" {
		ra.out = "polylink-testbed-nat.json"
	}
	if err := writeReportFiles(stream.Report{Title: "polylink testbed: nat", Scenario: run, Results: run.Results}, ra.plot, ra.out); err != nil {
		return err
	}
	if ra.asJSON {
		return json.NewEncoder(os.Stdout).Encode(run)
	}
	fmt.Println()
	fmt.Print(stream.Table(run.Results))
	fmt.Println()
	for r := range run.MappedBefore {
		fmt.Printf("server sees robot %d at %s; after nat1 changed address: %s\n", r+1,
			strings.Join(run.MappedBefore[r], " and "), strings.Join(run.MappedAfter[r], " and "))
	}
	if run.Followed > 0 {
		fmt.Printf("the server followed both robots to nat1's new address within %v\n", run.Followed.Round(1e6))
	}
	for r, b := range run.Blocked {
		fmt.Printf("robot %d: IP-in-IP blocked on %s\n", r+1, strings.Join(b, ", "))
	}
	lost := uint64(0)
	for _, res := range run.Results {
		lost += res.Lost
	}
	if lost == 0 {
		fmt.Println("ok: nothing lost across the cut and the re-addressing")
	} else {
		fmt.Printf("LOST %d packets\n", lost)
	}
	return nil
}
