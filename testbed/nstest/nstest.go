// Package nstest gives tests real network namespaces from the testbed, each
// removed when the test ends, on failure too.
package nstest

import (
	"os"
	"testing"

	"github.com/polylink/polylink/testbed"
)

// NoKernelEnv names the environment variable that, set to any non-empty
// value, skips every test that needs root, as if it ran without: CI sets it
// to run the race detector over the tests that need no kernel state.
const NoKernelEnv = "POLYLINK_NO_KERNEL_TESTS"

// RequireRoot skips the test with a clear message unless it runs as root
// and NoKernelEnv is unset.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Getenv(NoKernelEnv) != "" {
		t.Skip("needs root: kernel tests switched off (" + NoKernelEnv + " is set)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, veths and raw sockets (CI runs as root)")
	}
}

// Namespace creates a namespace named prefix-PID-N, deleted at test end.
func Namespace(t testing.TB, prefix string) *testbed.Namespace {
	t.Helper()
	RequireRoot(t)
	ns, err := testbed.NewNamespace(testbed.UniqueName(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
	})
	return ns
}

// Veth links a and b with a veth pair (aName in a, bName in b), sets the
// given IPv4 prefixes on each end ("" for none) and brings both ends up.
func Veth(t testing.TB, a *testbed.Namespace, aName, aAddr string, b *testbed.Namespace, bName, bAddr string) {
	t.Helper()
	if err := testbed.Veth(a, aName, b, bName); err != nil {
		t.Fatal(err)
	}
	for _, end := range []struct {
		ns         *testbed.Namespace
		name, addr string
	}{{a, aName, aAddr}, {b, bName, bAddr}} {
		if end.addr != "" {
			if _, err := end.ns.Run("ip", "addr", "add", end.addr, "dev", end.name); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := end.ns.Run("ip", "link", "set", end.name, "up"); err != nil {
			t.Fatal(err)
		}
	}
}
