package dedup

import (
	"net/netip"
	"runtime"
	"sync"
	"testing"
)

// hostN returns a distinct virtual IPv4 address for each n < 2^24.
func hostN(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

var (
	hostA = hostN(1)
	hostB = hostN(2)
	hostC = hostN(3)
)

// tableStep is one copy arriving at a Table.
type tableStep struct {
	host netip.Addr
	id   uint16
	at   int64
	want Verdict
}

func runTable(t *testing.T, vector int, tbl *Table, steps []tableStep) {
	t.Helper()
	for i, s := range steps {
		if got := tbl.Check(s.host, s.id, s.at); got != s.want {
			t.Errorf("vector %d step %d: Check(%v, %d, %d) = %v, want %v", vector, i, s.host, s.id, s.at, got, s.want)
			return
		}
	}
}

func TestTableHostsAreIndependent(t *testing.T) {
	tbl := NewTable(8)
	runTable(t, 0, tbl, []tableStep{
		{hostA, 5, 0, Accepted},
		{hostB, 5, 0, Accepted},
		{hostC, 5, ms, Accepted},
		{hostA, 5, 2 * ms, Duplicate},
		{hostB, 5, 2 * ms, Duplicate},
		{hostB, 6, 2 * ms, Accepted},
		{hostA, 6, 3 * ms, Accepted},
	})
	if got := tbl.Len(); got != 3 {
		t.Errorf("Len = %d, want 3", got)
	}
}

func TestTableEvictsLeastRecentlyUsed(t *testing.T) {
	tbl := NewTable(2)
	runTable(t, 0, tbl, []tableStep{
		{hostA, 5, 0, Accepted},
		{hostB, 5, 0, Accepted},
		{hostA, 6, ms, Accepted},      // A is now the most recently used
		{hostC, 5, 2 * ms, Accepted},  // evicts B
		{hostA, 5, 3 * ms, Duplicate}, // A kept its window
	})
	if got, want := tbl.Evictions(), uint64(1); got != want {
		t.Errorf("Evictions = %d, want %d", got, want)
	}
	if got := tbl.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
	// B starts over: its ID 5 is accepted again, and it evicts C, now the
	// least recently used.
	runTable(t, 1, tbl, []tableStep{
		{hostB, 5, 4 * ms, Accepted},
		{hostA, 5, 5 * ms, Duplicate},
		{hostC, 5, 6 * ms, Accepted},
	})
	if got, want := tbl.Evictions(), uint64(3); got != want {
		t.Errorf("Evictions = %d, want %d", got, want)
	}
}

func TestTableFloodOfForgedHostsStaysBounded(t *testing.T) {
	const maxHosts, forged = 16, 10_000
	tbl := NewTable(maxHosts)
	for i := range forged {
		if got := tbl.Check(hostN(i), 1, int64(i)); got != Accepted {
			t.Fatalf("forged host %d: %v, want accepted", i, got)
		}
	}
	if got := tbl.Len(); got != maxHosts {
		t.Errorf("Len = %d, want %d", got, maxHosts)
	}
	if got, want := tbl.Evictions(), uint64(forged-maxHosts); got != want {
		t.Errorf("Evictions = %d, want %d", got, want)
	}
}

// TestTableReusesWindows checks that hosts replacing evicted or removed ones
// get recycled windows: the bytes allocated per new host are far below one
// Window.
func TestTableReusesWindows(t *testing.T) {
	const maxHosts, churn = 8, 2000
	tbl := NewTable(maxHosts)
	for i := range maxHosts {
		tbl.Check(hostN(i), 0, 0)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := maxHosts; i < maxHosts+churn; i++ {
		tbl.Check(hostN(i), 0, 0)
		if i%2 == 0 {
			tbl.Remove(hostN(i))
		}
	}
	runtime.ReadMemStats(&after)
	perHost := (after.TotalAlloc - before.TotalAlloc) / churn
	if perHost > 1024 {
		t.Errorf("%d bytes allocated per new host, want a recycled window (< 1 KiB)", perHost)
	}
}

func TestTableReset(t *testing.T) {
	tbl := NewTable(4)
	runTable(t, 0, tbl, []tableStep{{hostA, 7, 0, Accepted}, {hostB, 7, 0, Accepted}})
	tbl.Reset(hostA)
	runTable(t, 1, tbl, []tableStep{
		{hostA, 7, ms, Accepted},  // the restarted host's ID is new again
		{hostB, 7, ms, Duplicate}, // the other host is untouched
	})
	tbl.Reset(hostC) // unknown host: no window is created
	if got := tbl.Len(); got != 2 {
		t.Errorf("Len after Reset of unknown host = %d, want 2", got)
	}
}

func TestTableRemove(t *testing.T) {
	tbl := NewTable(4)
	runTable(t, 0, tbl, []tableStep{{hostA, 7, 0, Accepted}, {hostB, 7, 0, Accepted}})
	tbl.Remove(hostA)
	tbl.Remove(hostC) // unknown host: no effect
	if got := tbl.Len(); got != 1 {
		t.Errorf("Len after Remove = %d, want 1", got)
	}
	runTable(t, 1, tbl, []tableStep{{hostA, 7, ms, Accepted}, {hostB, 7, ms, Duplicate}})
	if got := tbl.Evictions(); got != 0 {
		t.Errorf("Evictions = %d, want 0: Remove is not an eviction", got)
	}
}

// TestTableForgetsLastHost covers the repeat-host shortcut: after its host
// is removed or evicted, no check may reach the old window.
func TestTableForgetsLastHost(t *testing.T) {
	removed := NewTable(4)
	runTable(t, 0, removed, []tableStep{{hostA, 7, 0, Accepted}})
	removed.Remove(hostA) // A was the last host checked
	runTable(t, 1, removed, []tableStep{
		{hostA, 8, ms, Accepted},
		{hostC, 8, 2 * ms, Accepted}, // C must not inherit A's window
		{hostA, 8, 3 * ms, Duplicate},
		{hostC, 8, 4 * ms, Duplicate},
	})
	if got := removed.Len(); got != 2 {
		t.Errorf("Len = %d, want 2 (A re-admitted, C)", got)
	}

	evicted := NewTable(1)
	runTable(t, 2, evicted, []tableStep{
		{hostA, 5, 0, Accepted},
		{hostB, 5, ms, Accepted}, // evicts A, the last host
		{hostA, 5, 2 * ms, Accepted},
		{hostA, 5, 3 * ms, Duplicate},
	})
}

func TestNewTableClampsMaxHosts(t *testing.T) {
	for i, maxHosts := range []int{0, -5} {
		tbl := NewTable(maxHosts)
		tbl.Check(hostA, 1, 0)
		tbl.Check(hostB, 1, 0)
		if got := tbl.Len(); got != 1 {
			t.Errorf("case %d: NewTable(%d) holds %d hosts, want 1", i, maxHosts, got)
		}
	}
}

// TestTableConcurrentFirstCopyWins races copies of the same IDs from
// several goroutines: exactly one copy of each ID is accepted.
func TestTableConcurrentFirstCopyWins(t *testing.T) {
	const paths, ids = 4, 2000
	tbl := NewTable(4)
	var accepted [paths]int
	var wg sync.WaitGroup
	for p := range paths {
		wg.Go(func() {
			for id := range ids {
				if tbl.Check(hostA, uint16(id), 0) == Accepted {
					accepted[p]++
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range accepted {
		total += n
	}
	if total != ids {
		t.Errorf("%d copies accepted across %d paths, want %d (one per ID)", total, paths, ids)
	}
}

func TestTableCheckAllocs(t *testing.T) {
	tbl := NewTable(4)
	tbl.Check(hostA, 0, 0)
	tbl.Check(hostB, 0, 0)
	var i int64
	n := testing.AllocsPerRun(1000, func() {
		i++
		tbl.Check(hostA, uint16(i), i*ms)
	})
	if n != 0 {
		t.Errorf("Table.Check on a known host allocates %v times per call, want 0", n)
	}
}
