package linkmon

import (
	"fmt"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// TestSetExcludeAppliesLive: excluding a running NIC removes it (its
// socket closed), un-excluding adds it back, and the NIC left alone keeps
// its socket throughout.
func TestSetExcludeAppliesLive(t *testing.T) {
	a := nstest.Namespace(t, "pl-lmx")
	b := nstest.Namespace(t, "pl-lmx")
	if err := testbed.Veth(a, "x0", b, "y0"); err != nil {
		t.Fatal(err)
	}
	if err := testbed.Veth(a, "x1", b, "y1"); err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"x0", "x1"} {
		mustRun(t, a, "ip", "addr", "add", fmt.Sprintf("198.18.%d.1/24", 44+i), "dev", n)
		mustRun(t, a, "ip", "link", "set", n, "up")
		mustRun(t, b, "ip", "link", "set", "y"+n[1:], "up")
	}
	ha := handleIn(t, a)
	waitOperUp(t, ha, "x0")
	waitOperUp(t, ha, "x1")
	m := startMonitor(t, a, Config{}, testHooks{})
	keep := expectEvent(t, m, Added, "x0").Socket
	expectEvent(t, m, Added, "x1")

	if err := m.SetExclude([]string{"x1"}); err != nil {
		t.Fatal(err)
	}
	gone := expectEvent(t, m, Removed, "x1")
	expectClosed(t, gone.Socket)
	if err := m.SetExclude(nil); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, m, Added, "x1")
	expectNoEvent(t, m)
	if len(m.NICs()) != 2 || m.NICs()[0].Name != "x0" {
		t.Fatalf("NICs %v, want x0 and x1", m.NICs())
	}
	if err := keep.SetReadDeadline(time.Now()); err != nil {
		t.Fatal("x0's socket was closed by an exclude change that did not name it")
	}
	if err := m.SetExclude([]string{"["}); err == nil {
		t.Fatal("a bad pattern was accepted")
	}
}
