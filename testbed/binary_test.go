package testbed_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/polylink/polylink/testbed"
)

// testBinary is the polylink binary the scenario tests' daemons run, built
// once per test process and removed by TestMain.
var testBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

// polylinkBinary builds polylink (once) and returns its path.
func polylinkBinary(t *testing.T) string {
	t.Helper()
	testBinary.once.Do(func() {
		if testBinary.dir, testBinary.err = os.MkdirTemp("", "polylink-testbed-test-"); testBinary.err != nil {
			return
		}
		testBinary.path = filepath.Join(testBinary.dir, "polylink")
		if out, err := exec.Command("go", "build", "-o", testBinary.path, "../cmd/polylink").CombinedOutput(); err != nil {
			testBinary.err = &buildError{err, out}
		}
	})
	if testBinary.err != nil {
		t.Fatalf("build polylink: %v", testBinary.err)
	}
	return testBinary.path
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

// removePolylinkBinary removes what polylinkBinary built.
func removePolylinkBinary() {
	if testBinary.dir != "" {
		_ = os.RemoveAll(testBinary.dir)
	}
}

// holdToChecks fails the test on every failed check of the run; a check
// the machine was too loaded to measure is logged, not failed.
func holdToChecks(t *testing.T, run *testbed.Run) {
	t.Helper()
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
