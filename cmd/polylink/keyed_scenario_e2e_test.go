package main

import (
	"testing"

	"github.com/polylink/polylink/testbed"
)

// TestKeyedBufferbloatHasNoLateDuplicates runs the bufferbloat scenario
// (a path turning 600 ms slow mid-stream: beyond the keyless 500 ms
// duplicate window, so keyless hands late copies to the application)
// keyed: the replay window recognises every copy however late.
func TestKeyedBufferbloatHasNoLateDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an 8 s stream")
	}
	sc, err := testbed.LoadScenario("bufferbloat")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k0, k1 := genKey(t, dir, "vm0"), genKey(t, dir, "router")
	sc.DaemonArgs[testbed.VM0] = []string{"--key", k0.file, "--peer-key", k1.pub}
	sc.DaemonArgs[testbed.VM1] = []string{"--key", k1.file, "--allow", k0.pub + "=" + testbed.VM0.Virtual().Addr().String()}
	run, err := testbed.RunScenario(t.Context(), sc, testbed.RunOptions{Binary: polylinkBinary(t), Prefix: testbed.UniqueName("pl-kbb")})
	if err != nil {
		t.Fatal(err)
	}
	r := run.Result("polylink")
	if r == nil || run.Receiver == nil {
		t.Fatalf("no polylink result or receiver status: %+v", run)
	}
	c := run.Receiver.Counters
	t.Logf("keyed bufferbloat: sent %d lost %d duplicates at the application %d; receiver delivered %d, dropped %d copies as duplicates, late duplicates %d",
		r.Sent, r.Lost, r.Duplicates, c.Delivered, c.DuplicatesDropped, c.LateDuplicates)
	if r.Sent == 0 || r.Duplicates != 0 || c.LateDuplicates != 0 {
		t.Fatalf("keyed: %d duplicates reached the application, %d late duplicates counted; want 0 and 0", r.Duplicates, c.LateDuplicates)
	}
	if c.DuplicatesDropped == 0 {
		t.Errorf("the receiver dropped no copies: the stream did not go on two paths")
	}
}
