package linkmon

import (
	"net"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestMonitorFollowsNICLifecycle runs monitors for two hosts in one process,
// each pointed at its own namespace:
//
//	A pa0 198.18.42.1/24 ───── B pb0 198.18.42.2/24, later 198.18.43.2/24
//
// and walks B's NIC through its life: added, given a second address, moved
// to it, set down and up, stripped of its address, deleted. Every step is
// an event with a socket that carries packets or is closed.
func TestMonitorFollowsNICLifecycle(t *testing.T) {
	a := nstest.Namespace(t, "pl-lm")
	b := nstest.Namespace(t, "pl-lm")
	hb := handleIn(t, b)
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)

	ma := startMonitor(t, a, Config{}, testHooks{})
	mb := startMonitor(t, b, Config{Exclude: []string{"pl0"}}, testHooks{})
	if got := mb.NICs(); len(got) != 0 {
		t.Fatalf("a namespace with only lo has NICs %v", got)
	}

	if err := testbed.Veth(a, "pa0", b, "pb0"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, a, "ip", "addr", "add", "198.18.42.1/24", "dev", "pa0")
	mustRun(t, a, "ip", "link", "set", "pa0", "up")
	mustRun(t, b, "ip", "link", "set", "pb0", "up")
	aSock := expectEvent(t, ma, Added, "pa0").Socket
	waitOperUp(t, hb, "pb0")
	expectNoEvent(t, mb) // up, but no address yet

	pb0, err := hb.LinkByName("pb0")
	if err != nil {
		t.Fatal(err)
	}
	addr42 := mustAddr(t, "198.18.42.2/24")
	start := time.Now()
	if err := hb.AddrAdd(pb0, addr42); err != nil {
		t.Fatal(err)
	}
	added := expectEvent(t, mb, Added, "pb0")
	t.Logf("address added → Added event: %v", time.Since(start))
	if added.NIC.Addr != netip.MustParseAddr("198.18.42.2") || added.NIC.Index != pb0.Attrs().Index {
		t.Fatalf("Added %+v, want pb0 with 198.18.42.2", added.NIC)
	}
	if got := mb.NICs(); len(got) != 1 || !got[0].equal(added.NIC) {
		t.Fatalf("NICs() = %v, want [%v]", got, added.NIC)
	}
	exchange(t, aSock, added.Socket)

	// A second address in another subnet: a Changed event, same socket,
	// because the lower address stays the chosen one.
	mustRun(t, a, "ip", "route", "add", "198.18.43.0/24", "dev", "pa0")
	mustRun(t, b, "ip", "addr", "add", "198.18.43.2/24", "dev", "pb0")
	changed := expectEvent(t, mb, Changed, "pb0")
	if changed.Socket != added.Socket || changed.NIC.Addr != added.NIC.Addr || len(changed.NIC.Addrs) != 2 {
		t.Fatalf("after adding 198.18.43.2: %+v with a new socket: %v; want the same socket and address, two Addrs",
			changed.NIC, changed.Socket != added.Socket)
	}

	// The chosen address goes: the socket is rebound to the one left.
	if err := hb.AddrDel(pb0, addr42); err != nil {
		t.Fatal(err)
	}
	moved := expectEvent(t, mb, Changed, "pb0")
	if moved.NIC.Addr != netip.MustParseAddr("198.18.43.2") || moved.Socket == added.Socket {
		t.Fatalf("after deleting 198.18.42.2: %+v, new socket %v; want 198.18.43.2 on a new socket",
			moved.NIC, moved.Socket != added.Socket)
	}
	expectClosed(t, added.Socket)
	if _, addr := boundTo(t, moved.Socket); addr != [4]byte{198, 18, 43, 2} {
		t.Fatalf("new socket bound to %v, want 198.18.43.2", addr)
	}
	exchange(t, aSock, moved.Socket)

	mustRun(t, b, "ip", "link", "set", "pb0", "down")
	removed := expectEvent(t, mb, Removed, "pb0")
	if removed.Socket != moved.Socket {
		t.Fatal("Removed carries another socket than the NIC's")
	}
	expectClosed(t, moved.Socket)
	expectEvent(t, ma, Removed, "pa0") // A's veth end loses its carrier
	expectClosed(t, aSock)

	mustRun(t, b, "ip", "link", "set", "pb0", "up")
	again := expectEvent(t, mb, Added, "pb0")
	exchange(t, expectEvent(t, ma, Added, "pa0").Socket, again.Socket)

	mustRun(t, b, "ip", "addr", "del", "198.18.43.2/24", "dev", "pb0")
	expectEvent(t, mb, Removed, "pb0")
	expectClosed(t, again.Socket)

	mustRun(t, b, "ip", "addr", "add", "198.18.42.2/24", "dev", "pb0")
	last := expectEvent(t, mb, Added, "pb0")
	mustRun(t, b, "ip", "link", "del", "pb0")
	expectEvent(t, mb, Removed, "pb0")
	expectClosed(t, last.Socket)
	if got := mb.NICs(); len(got) != 0 {
		t.Fatalf("NICs() after the veth is gone = %v", got)
	}

	for _, m := range []*Monitor{ma, mb} {
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		for ev := range m.Events() { // must be closed, not block
			_ = ev
		}
	}
	expectNoLeaks(t, goroutines, fds)
}

// TestMonitorAddedLatency measures, over repeated rounds, the time from
// adding an address to a NIC that is already up to the Added event. The
// design's target is 100 ms; the median must meet it, and no single round
// may exceed a second even on a loaded machine.
func TestMonitorAddedLatency(t *testing.T) {
	b, pb0, hb := oneVeth(t)
	m := startMonitor(t, b, Config{}, testHooks{})
	addr := mustAddr(t, "198.18.44.2/24")
	const rounds = 30
	var took []time.Duration
	for range rounds {
		start := time.Now()
		if err := hb.AddrAdd(pb0, addr); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, m, Added, "pb0")
		took = append(took, time.Since(start))
		if err := hb.AddrDel(pb0, addr); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, m, Removed, "pb0")
	}
	slices.Sort(took)
	median, worst := took[len(took)/2], took[len(took)-1]
	t.Logf("address added → Added event over %d rounds: median %v, min %v, max %v", rounds, median, took[0], worst)
	if median > 100*time.Millisecond || worst > time.Second {
		t.Errorf("median %v (target 100ms), max %v (limit 1s)", median, worst)
	}
}

// TestMonitorResyncsWhenSubscriptionBreaks breaks the netlink subscription
// and adds an address while no subscription exists: no message will ever
// report it, only the fresh dump after resubscribing can.
func TestMonitorResyncsWhenSubscriptionBreaks(t *testing.T) {
	b, pb0, hb := oneVeth(t)
	core, logs := observer.New(zap.InfoLevel)
	breakSub := make(chan struct{})
	m := startMonitor(t, b, Config{Logger: zap.New(core)}, testHooks{
		breakSubscription: breakSub,
		beforeResubscribe: func() {
			if err := hb.AddrAdd(pb0, mustAddr(t, "198.18.45.2/24")); err != nil {
				t.Error(err)
			}
		},
	})
	expectNoEvent(t, m)
	breakSub <- struct{}{}
	ev := expectEvent(t, m, Added, "pb0")
	if ev.NIC.Addr != netip.MustParseAddr("198.18.45.2") {
		t.Fatalf("after resync: %+v, want 198.18.45.2", ev.NIC)
	}
	if n := logs.FilterLevelExact(zap.WarnLevel).FilterMessageSnippet("resubscribing").Len(); n != 1 {
		t.Errorf("%d Warn lines about resubscribing, want 1", n)
	}
	if n := logs.FilterMessage("NIC added").Len(); n != 1 {
		t.Errorf("%d Info lines for the added NIC, want 1", n)
	}
	// The new subscription is live.
	mustRun(t, b, "ip", "addr", "del", "198.18.45.2/24", "dev", "pb0")
	expectEvent(t, m, Removed, "pb0")
}

// TestMonitorInsideItsNamespace runs New on a thread inside the namespace
// with Config.Namespace unset, as polylink does when started with
// `ip netns exec`.
func TestMonitorInsideItsNamespace(t *testing.T) {
	b, _, _ := oneVeth(t)
	mustRun(t, b, "ip", "addr", "add", "198.18.46.2/24", "dev", "pb0")
	var m *Monitor
	if err := b.Do(func() error {
		var err error
		m, err = New(Config{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ev := expectEvent(t, m, Added, "pb0") // the initial set comes as Added
	if ev.NIC.Addr != netip.MustParseAddr("198.18.46.2") {
		t.Fatalf("initial NIC %+v, want pb0 with 198.18.46.2", ev.NIC)
	}
	// Changes are seen from the monitor's namespace, not this thread's.
	mustRun(t, b, "ip", "addr", "del", "198.18.46.2/24", "dev", "pb0")
	expectEvent(t, m, Removed, "pb0")
}

// oneVeth builds a namespace B whose veth pb0 is up and operationally up,
// with its peer in a second namespace, and no address.
func oneVeth(t testing.TB) (*testbed.Namespace, netlink.Link, *netlink.Handle) {
	t.Helper()
	a := nstest.Namespace(t, "pl-lm")
	b := nstest.Namespace(t, "pl-lm")
	nstest.Veth(t, a, "pa0", "", b, "pb0", "")
	hb := handleIn(t, b)
	waitOperUp(t, hb, "pb0")
	pb0, err := hb.LinkByName("pb0")
	if err != nil {
		t.Fatal(err)
	}
	return b, pb0, hb
}

// exchange sends a packet each way between two sockets and checks the outer
// source addresses.
func exchange(t *testing.T, x, y *Socket) {
	t.Helper()
	p := tag("%s to %s", x.NIC().Addr, y.NIC().Addr)
	if err := x.WriteTo([]byte(p), y.NIC().Addr); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, y, p, x.NIC().Addr)
	p = tag("%s to %s", y.NIC().Addr, x.NIC().Addr)
	if err := y.WriteTo([]byte(p), x.NIC().Addr); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, x, p, y.NIC().Addr)
}

func mustAddr(t testing.TB, prefix string) *netlink.Addr {
	t.Helper()
	ip, ipnet, err := net.ParseCIDR(prefix)
	if err != nil {
		t.Fatal(err)
	}
	ipnet.IP = ip
	return &netlink.Addr{IPNet: ipnet}
}
