package testbed_test

import (
	"os/exec"
	"testing"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// Redundancy where it counts, end to end: real daemons in the testbed's
// namespaces, rate-limited emulated links, a real TCP upload (iperf3)
// beside a real-time stream. Each test runs one built-in scenario (the
// same `polylink testbed run NAME` shows a user, with its table and plot)
// and holds it to the scenario's checks.

func runPolicyScenario(t *testing.T, name string) *testbed.Run {
	t.Helper()
	nstest.RequireRoot(t)
	if testing.Short() {
		t.Skip("runs a 15 to 30 s stream")
	}
	if _, err := exec.LookPath("iperf3"); err != nil && (name == "metered" || name == "bulk") {
		t.Skip("needs iperf3 for the upload")
	}
	sc, err := testbed.LoadScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	run, err := testbed.RunScenario(t.Context(), sc, testbed.RunOptions{Binary: polylinkBinary(t),
		Prefix: testbed.UniqueName("pl-pol"), Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	holdToChecks(t, run)
	return run
}

// Wi-Fi 10 Mbit/s 20 ms cut for 3 s, LTE 2.5 Mbit/s 45 ms --metered,
// 1.5 Mbit/s video and a TCP upload: video loss ≤ 0.2 %, p99 ≤ 100 ms,
// upload ≥ 5 Mbit/s, no bulk on LTE either way (daemons' counters and
// the LTE emulator's frame count).
func TestMeteredLinkCarriesNoBulk(t *testing.T) { runPolicyScenario(t, "metered") }

// The same links with nothing metered and no cut: the upload goes on
// Wi-Fi alone, never copied onto LTE.
func TestBulkIsNotDuplicated(t *testing.T) { runPolicyScenario(t, "bulk") }

// Both links at 2 % random loss, Wi-Fi cut for 11 s: with one path left,
// the second copy brings the stream's loss from the surviving link's ~2 %
// to ≤ 0.1 %.
func TestSecondCopyWithOnePathLeft(t *testing.T) { runPolicyScenario(t, "one-path") }

// --redundancy all keeps the seed's behaviour: no second copy, so the
// stream loses what the surviving link loses, within sampling noise.
func TestCopyAllBehavesAsTheSeed(t *testing.T) { runPolicyScenario(t, "one-path-copy-all") }
