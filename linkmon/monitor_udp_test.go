package linkmon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// TestMonitorOpensUDPSocketsPerFamily walks B's NIC through IPv6 only,
// then dual stack, with the monitor's UDP port set:
//
//	A pa0 2001:2:0:50::1/64 198.18.50.1/24 ───── B pb0 2001:2:0:50::2/64, later 198.18.50.2/24
//
// An IPv6-only NIC is usable (a UDP/IPv6 socket, no raw one); an IPv4
// address added later brings the raw and UDP/IPv4 sockets and keeps the
// IPv6 one; routes through the NIC are followed without events.
func TestMonitorOpensUDPSocketsPerFamily(t *testing.T) {
	a := nstest.Namespace(t, "pl-lm")
	b := nstest.Namespace(t, "pl-lm")
	const port = 45820
	mb := startMonitor(t, b, Config{UDPPort: port}, testHooks{})
	if err := testbed.Veth(a, "pa0", b, "pb0"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, a, "ip", "addr", "add", "2001:2:0:50::1/64", "dev", "pa0", "nodad")
	mustRun(t, a, "ip", "addr", "add", "198.18.50.1/24", "dev", "pa0")
	mustRun(t, a, "ip", "link", "set", "pa0", "up")
	mustRun(t, b, "ip", "link", "set", "pb0", "up")
	waitOperUp(t, handleIn(t, b), "pb0")
	expectNoEvent(t, mb) // up, with only a link-local IPv6 address: unusable

	mustRun(t, b, "ip", "addr", "add", "2001:2:0:50::2/64", "dev", "pb0", "nodad")
	added := expectEvent(t, mb, Added, "pb0")
	if added.Socket != nil || added.UDP4 != nil || added.UDP6 == nil {
		t.Fatalf("IPv6-only NIC: raw %v UDP4 %v UDP6 %v; want only a UDP6 socket", added.Socket, added.UDP4, added.UDP6)
	}
	if added.NIC.Addr.IsValid() || added.NIC.Addr6 != netip.MustParseAddr("2001:2:0:50::2") {
		t.Fatalf("NIC %+v, want Addr6 2001:2:0:50::2 and no IPv4", added.NIC)
	}
	if got := added.UDP6.LocalAddr(); got != netip.MustParseAddrPort("[2001:2:0:50::2]:45820") {
		t.Fatalf("UDP6 bound to %v", got)
	}
	peer := openUDPIn(t, a, nicIn(t, a, "pa0", ""), "[2001:2:0:50::1]:45820")
	p := tag("to an IPv6-only NIC")
	if err := peer.WriteTo([]byte(p), added.UDP6.LocalAddr(), 0); err != nil {
		t.Fatal(err)
	}
	if from := expectUDP(t, added.UDP6, p); from != peer.LocalAddr() {
		t.Fatalf("came from %v, want %v", from, peer.LocalAddr())
	}

	mustRun(t, b, "ip", "addr", "add", "198.18.50.2/24", "dev", "pb0")
	dual := expectEvent(t, mb, Changed, "pb0")
	if dual.Socket == nil || dual.UDP4 == nil || dual.UDP6 != added.UDP6 {
		t.Fatalf("dual stack: raw %v UDP4 %v same UDP6 %v; want new raw and UDP4, the same UDP6",
			dual.Socket, dual.UDP4, dual.UDP6 == added.UDP6)
	}
	if got := dual.UDP4.LocalAddr(); got != netip.MustParseAddrPort("198.18.50.2:45820") {
		t.Fatalf("UDP4 bound to %v", got)
	}

	// Routes: only the connected prefixes at first; a default route via
	// pb0 makes any address reachable through it; removing it, not.
	far := netip.MustParseAddr("198.18.99.9")
	far6 := netip.MustParseAddr("2001:2:0:99::9")
	waitNIC(t, mb, "pb0", "no route to 198.18.99.9 yet", func(n NIC) bool {
		return n.HasRoute(netip.MustParseAddr("198.18.50.77")) && !n.HasRoute(far) && !n.HasRoute(far6)
	})
	mustRun(t, b, "ip", "route", "add", "default", "via", "198.18.50.1", "dev", "pb0")
	mustRun(t, b, "ip", "-6", "route", "add", "2001:2:0:99::/64", "via", "2001:2:0:50::1", "dev", "pb0")
	waitNIC(t, mb, "pb0", "routes to both", func(n NIC) bool { return n.HasRoute(far) && n.HasRoute(far6) })
	if got := dual.UDP4.NIC(); !got.HasRoute(far) {
		t.Fatalf("the socket's NIC %v has not learnt the new route", got.Routes)
	}
	mustRun(t, b, "ip", "route", "del", "default")
	waitNIC(t, mb, "pb0", "the default route gone", func(n NIC) bool { return !n.HasRoute(far) && n.HasRoute(far6) })
	expectNoEvent(t, mb) // route changes are no events

	mustRun(t, b, "ip", "addr", "flush", "dev", "pb0", "scope", "global")
	removed := expectEvent(t, mb, Removed, "pb0")
	for _, s := range []*UDPSocket{removed.UDP4, removed.UDP6} {
		if s == nil || !s.closed.Load() {
			t.Fatalf("Removed: UDP sockets %v %v, want both, closed", removed.UDP4, removed.UDP6)
		}
	}
	expectClosed(t, removed.Socket)
}

// waitNIC waits until the monitor's NIC named name satisfies ok.
func waitNIC(t *testing.T, m *Monitor, name, what string, ok func(NIC) bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		for _, n := range m.NICs() {
			if n.Name == name && ok(n) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: waited %v for %s; NICs %v", name, waitFor, what, m.NICs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
