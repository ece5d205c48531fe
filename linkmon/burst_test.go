package linkmon

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// burstExclude keeps the far ends of the burst's veth pairs out: the
// exclusion rule is exercised under churn too.
var burstExclude = []string{"b*p"}

// TestMonitorKeepsTrackThroughBurst applies 1,000 link and address changes
// with one `ip -batch` and checks that the monitor ends up agreeing with
// `ip -j link` and `ip -j -4 addr`, and that its events, replayed, agree
// with it. With a tiny subscription buffer the kernel overruns it
// (ENOBUFS): the resync path must get to the same answer.
func TestMonitorKeepsTrackThroughBurst(t *testing.T) {
	for _, c := range []struct {
		name   string
		rcvbuf int
	}{
		{"default buffer", 0},
		{"overrun buffer", 1}, // the kernel rounds it up to its minimum, a few KiB
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := nstest.Namespace(t, "pl-lm")
			core, logs := observer.New(zap.WarnLevel)
			m := startMonitor(t, ns, Config{Exclude: burstExclude, Logger: zap.New(core)},
				testHooks{subscriptionBuffer: c.rcvbuf})
			replay := replayEvents(t, m)

			script := filepath.Join(t.TempDir(), "burst")
			if err := os.WriteFile(script, []byte(strings.Join(burstScript(1000), "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			// -force: carry on past the few commands the script's rough
			// model gets wrong (deleting an address already flushed).
			_, err := ns.Run("ip", "-force", "-batch", script)
			t.Logf("1000 changes applied in %v; %d refused by the kernel",
				time.Since(start), strings.Count(fmt.Sprint(err), "Command failed"))

			want := waitAgreement(t, ns, m)
			if len(want) < 2 {
				t.Fatalf("the burst left %d usable NICs; the script should leave several to compare", len(want))
			}
			resubscribed := logs.FilterMessageSnippet("resubscribing").Len()
			t.Logf("settled %v after the burst began: %d usable NICs; %d resubscriptions",
				time.Since(start), len(want), resubscribed)
			if c.rcvbuf == 1 && resubscribed == 0 {
				t.Error("the overrun buffer never overran: the resync path went untested")
			}
			replay.waitEqual(t, want)
			for _, n := range want {
				s := replay.socket(n.Index)
				if idx, addr := boundTo(t, s); idx != n.Index || netip.AddrFrom4(addr) != n.Addr {
					t.Errorf("%s: socket bound to index %d address %v, want %d %v", n.Name, idx, netip.AddrFrom4(addr), n.Index, n.Addr)
				}
			}
		})
	}
}

// burstScript returns n ip -batch commands churning up to eight veth pairs
// (bNgG / bNgGp): create and delete, up and down on either end, MTU changes,
// addresses added and deleted (many of them secondaries, some on the
// excluded ends). A recreated pair gets a new name because ip -batch caches
// name-to-index lookups. A rough model keeps most commands valid.
func burstScript(n int) []string {
	rng := rand.New(rand.NewPCG(40, 47))
	type pair struct {
		name  string // "" while the slot holds no pair
		addrs []string
	}
	var pairs [8]pair
	var cmds []string
	for gen := 0; len(cmds) < n; {
		p := &pairs[rng.IntN(len(pairs))]
		if p.name == "" {
			gen++
			*p = pair{name: fmt.Sprintf("b%dg%d", gen%len(pairs), gen)}
			cmds = append(cmds, fmt.Sprintf("link add %s type veth peer name %sp", p.name, p.name))
			continue
		}
		switch r := rng.IntN(100); {
		case r < 3:
			cmds = append(cmds, "link del "+p.name)
			*p = pair{}
		case r < 20:
			cmds = append(cmds, fmt.Sprintf("link set %s %s", p.name, pick(rng, "up", "up", "up", "down")))
		case r < 35:
			cmds = append(cmds, fmt.Sprintf("link set %sp %s", p.name, pick(rng, "up", "up", "up", "down")))
		case r < 40:
			cmds = append(cmds, fmt.Sprintf("link set %s mtu %s", p.name, pick(rng, "1400", "1500")))
		case r < 75:
			a := fmt.Sprintf("198.18.%d.%d/24", 44+rng.IntN(4), 1+rng.IntN(254))
			cmds = append(cmds, fmt.Sprintf("address add %s dev %s", a, p.name))
			p.addrs = append(p.addrs, a)
		case r < 80:
			a := fmt.Sprintf("198.18.%d.%d/24", 44+rng.IntN(4), 1+rng.IntN(254))
			cmds = append(cmds, fmt.Sprintf("address add %s dev %sp", a, p.name))
		case len(p.addrs) > 0:
			k := rng.IntN(len(p.addrs))
			cmds = append(cmds, fmt.Sprintf("address del %s dev %s", p.addrs[k], p.name))
			p.addrs = slices.Delete(p.addrs, k, k+1)
		}
	}
	return cmds
}

func pick(rng *rand.Rand, choices ...string) string { return choices[rng.IntN(len(choices))] }

// waitAgreement waits until the monitor's NICs equal the usable set that
// iproute2 reports, and returns it. Carrier changes land asynchronously
// (linkwatch), so the expectation is re-read each round.
func waitAgreement(t *testing.T, ns *testbed.Namespace, m *Monitor) []NIC {
	t.Helper()
	deadline := time.Now().Add(4 * waitFor)
	for {
		want := iprouteNICs(t, ns, burstExclude)
		got := m.NICs()
		if slices.EqualFunc(got, want, NIC.equal) {
			return want
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitor disagrees with iproute2:\n got %v\nwant %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// iprouteNICs computes the usable NICs from iproute2's JSON output, with
// the documented rules written out again independently of rules.go.
func iprouteNICs(t *testing.T, ns *testbed.Namespace, exclude []string) []NIC {
	t.Helper()
	var links []struct {
		Index int      `json:"ifindex"`
		Name  string   `json:"ifname"`
		Flags []string `json:"flags"`
		MTU   int      `json:"mtu"`
		Oper  string   `json:"operstate"`
	}
	var addrs []struct {
		Index int `json:"ifindex"`
		Info  []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
			Secondary bool   `json:"secondary"`
		} `json:"addr_info"`
	}
	for cmd, v := range map[string]any{"link": &links, "addr": &addrs} {
		args := []string{"-j", cmd}
		if cmd == "addr" {
			args = []string{"-j", "-4", "addr"}
		}
		if err := json.Unmarshal([]byte(mustRun(t, ns, "ip", args...)), v); err != nil {
			t.Fatalf("parse ip %v: %v", args, err)
		}
	}
	byIndex := make(map[int]NIC)
	for _, l := range links {
		if !slices.Contains(l.Flags, "UP") || slices.Contains(l.Flags, "LOOPBACK") ||
			(l.Oper != "UP" && l.Oper != "UNKNOWN") || excluded(l.Name, exclude) {
			continue
		}
		byIndex[l.Index] = NIC{Index: l.Index, Name: l.Name, MTU: l.MTU}
	}
	for _, a := range addrs {
		n, ok := byIndex[a.Index]
		if !ok {
			continue
		}
		var primaries []netip.Prefix
		for _, i := range a.Info {
			p := netip.PrefixFrom(netip.MustParseAddr(i.Local), i.Prefixlen)
			n.Addrs = append(n.Addrs, p)
			if !i.Secondary {
				primaries = append(primaries, p)
			}
		}
		slices.SortFunc(n.Addrs, comparePrefixes)
		slices.SortFunc(primaries, comparePrefixes)
		if len(primaries) > 0 { // the burst uses no link-local addresses
			n.Prefix, n.Addr = primaries[0], primaries[0].Addr()
		}
		byIndex[a.Index] = n
	}
	var nics []NIC
	for _, idx := range slices.Sorted(maps.Keys(byIndex)) {
		if n := byIndex[idx]; len(n.Addrs) > 0 {
			nics = append(nics, n)
		}
	}
	return nics
}

// eventReplay drains a monitor's events and applies them to a map, checking
// socket ownership along the way: a Removed or replaced socket is closed,
// a live one is not.
type eventReplay struct {
	mu      sync.Mutex
	nics    map[int]Event // guarded by mu
	failure string        // guarded by mu
}

func replayEvents(t *testing.T, m *Monitor) *eventReplay {
	r := &eventReplay{nics: make(map[int]Event)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range m.Events() {
			r.apply(ev)
		}
	}()
	t.Cleanup(func() { m.Close(); <-done })
	return r
}

func (r *eventReplay) apply(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, known := r.nics[ev.NIC.Index]
	fail := func(format string, args ...any) {
		if r.failure == "" {
			r.failure = fmt.Sprintf("%v: ", ev) + fmt.Sprintf(format, args...)
		}
	}
	switch ev.Kind {
	case Added:
		if known {
			fail("already present")
		}
		r.nics[ev.NIC.Index] = ev
	case Changed:
		if !known {
			fail("changed before added")
		}
		if ev.Socket != prev.Socket && !prev.Socket.closed.Load() {
			fail("replaced socket left open")
		}
		r.nics[ev.NIC.Index] = ev
	case Removed:
		if !known {
			fail("removed before added")
		}
		if !ev.Socket.closed.Load() {
			fail("socket not closed")
		}
		delete(r.nics, ev.NIC.Index)
	}
}

// waitEqual waits until the replayed events describe want.
func (r *eventReplay) waitEqual(t *testing.T, want []NIC) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		r.mu.Lock()
		var got []NIC
		for _, idx := range slices.Sorted(maps.Keys(r.nics)) {
			got = append(got, r.nics[idx].NIC)
		}
		failure := r.failure
		r.mu.Unlock()
		if failure != "" {
			t.Fatal(failure)
		}
		if slices.EqualFunc(got, want, NIC.equal) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replayed events disagree with the monitor:\n got %v\nwant %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *eventReplay) socket(index int) *Socket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nics[index].Socket
}
