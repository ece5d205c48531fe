package dedup

import (
	"net/netip"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Table holds one Window per sending host, at most maxHosts of them (least
// recently used evicted), so forged host addresses cannot grow memory: it
// never holds more than maxHosts Windows, about 65 KiB each. Windows of
// evicted or removed hosts are cleared and reused, so a flood of forged
// hosts does not churn the allocator. Safe for concurrent use.
type Table struct {
	mu        sync.Mutex
	windows   *simplelru.LRU[netip.Addr, *Window] // guarded by mu
	spare     []*Window                           // guarded by mu; cleared windows of removed hosts
	maxHosts  int
	evictions uint64 // guarded by mu

	// The host of the last Check and its window, guarded by mu. Traffic
	// comes in runs from one host, and this host is already the most
	// recently used, so a repeat skips the map lookup and the LRU update.
	// lastWindow is nil when the cache is empty.
	lastHost   netip.Addr
	lastWindow *Window
}

// NewTable returns an empty table for at most maxHosts hosts; maxHosts < 1
// means 1.
func NewTable(maxHosts int) *Table {
	maxHosts = max(maxHosts, 1)
	// NewLRU fails only for a size below 1.
	windows, _ := simplelru.NewLRU[netip.Addr, *Window](maxHosts, nil)
	return &Table{windows: windows, maxHosts: maxHosts}
}

// Check runs Window.Check on host's window, creating the window (and
// evicting the least recently used host if the table is full) for a host it
// has not seen. It allocates nothing for a host already in the table.
func (t *Table) Check(host netip.Addr, id uint16, now int64) Verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	if host == t.lastHost && t.lastWindow != nil {
		return t.lastWindow.Check(id, now)
	}
	w, ok := t.windows.Get(host)
	if !ok {
		w = t.admit(host)
	}
	t.lastHost, t.lastWindow = host, w
	return w.Check(id, now)
}

// admit adds an empty window for host, reusing a spare or the least
// recently used host's window before allocating. t.mu must be held.
func (t *Table) admit(host netip.Addr) *Window {
	var w *Window
	switch {
	case len(t.spare) > 0:
		w = t.spare[len(t.spare)-1]
		t.spare = t.spare[:len(t.spare)-1]
	case t.windows.Len() >= t.maxHosts:
		_, w, _ = t.windows.RemoveOldest()
		t.evictions++
		w.Reset()
	default:
		w = new(Window)
	}
	t.windows.Add(host, w)
	return w
}

// Reset clears host's window, if it has one: the host restarted (new
// epoch), so its fresh IDs must not match the old run's.
func (t *Table) Reset(host netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, ok := t.windows.Peek(host); ok {
		w.Reset()
	}
}

// Remove forgets host; a later copy from it starts a fresh window.
func (t *Table) Remove(host netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.windows.Peek(host)
	if !ok {
		return
	}
	t.windows.Remove(host)
	if t.lastWindow == w {
		t.lastWindow = nil
	}
	w.Reset()
	// Len + len(spare) never exceeds maxHosts, so spare stays bounded.
	t.spare = append(t.spare, w)
}

// Len returns the number of hosts with a window.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.windows.Len()
}

// Evictions returns how many hosts have been evicted to make room for new
// ones since the table was made.
func (t *Table) Evictions() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.evictions
}
