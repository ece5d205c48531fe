package testbed_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// TestDemoScenario runs `polylink testbed demo`'s scenario for real and
// holds it to DESIGN.md's "working": loss at the limit of duplication, no
// application duplicates, no more loss during the cut than the surviving
// link's own, p50 latency within 1 ms of the faster link's.
func TestDemoScenario(t *testing.T) {
	nstest.RequireRoot(t)
	if testing.Short() {
		t.Skip("runs a 12 s stream")
	}
	bin := filepath.Join(t.TempDir(), "polylink")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/polylink").CombinedOutput(); err != nil {
		t.Fatalf("build polylink: %v\n%s", err, out)
	}
	sc, err := testbed.LoadScenario("demo")
	if err != nil {
		t.Fatal(err)
	}
	run, err := testbed.RunScenario(t.Context(), sc, testbed.RunOptions{Binary: bin, Prefix: testbed.UniqueName("pl-demo"),
		Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + run.Summary())
	for _, c := range run.Checks() {
		if !c.OK && c.Inconclusive {
			t.Logf("inconclusive: %s: %s", c.Name, c.Detail)
		} else if !c.OK {
			t.Errorf("%s: %s", c.Name, c.Detail)
		} else {
			t.Logf("ok: %s: %s", c.Name, c.Detail)
		}
	}
}
