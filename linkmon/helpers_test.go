package linkmon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
)

// waitFor bounds every wait on real state in these tests: generous, because
// the 2-core machine is shared, and still short enough to fail fast.
const waitFor = 5 * time.Second

// nicIn builds the NIC for ifname inside ns, bound to addr ("" for none,
// which binds the socket to the device only).
func nicIn(t testing.TB, ns *testbed.Namespace, ifname, addr string) NIC {
	t.Helper()
	var nic NIC
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		nic = NIC{Index: ifi.Index, Name: ifi.Name, MTU: ifi.MTU, Addr: netip.IPv4Unspecified()}
		return nil
	})
	if err != nil {
		t.Fatalf("look up %s in %s: %v", ifname, ns.Name, err)
	}
	if addr != "" {
		nic.Addr = netip.MustParseAddr(addr)
		nic.Prefix = netip.PrefixFrom(nic.Addr, 32)
		nic.Addrs = []netip.Prefix{nic.Prefix}
	}
	return nic
}

// openIn opens a socket for nic inside ns, closed at test end.
func openIn(t testing.TB, ns *testbed.Namespace, nic NIC) *Socket {
	t.Helper()
	var s *Socket
	if err := ns.Do(func() error {
		var err error
		s, err = OpenSocket(nic)
		return err
	}); err != nil {
		t.Fatalf("open socket on %s in %s: %v", nic.Name, ns.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// expectPacket reads from s until the packet tagged tag arrives from src,
// failing after waitFor. Other packets are skipped and reported.
func expectPacket(t *testing.T, s *Socket, tag string, src netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	if err := s.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	defer s.SetReadDeadline(time.Time{})
	buf := make([]byte, 2048)
	for {
		payload, from, err := s.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s: waiting for %q from %v: %v", s.NIC().Name, tag, src, err)
		}
		if string(payload) == tag {
			if from != src {
				t.Fatalf("%s: %q came from %v, want %v", s.NIC().Name, tag, from, src)
			}
			return
		}
		t.Logf("%s: skipped %q from %v while waiting for %q", s.NIC().Name, payload, from, tag)
	}
}

// expectNothingQueued fails if s holds any packet. Raw delivery hands a
// packet to every matching socket in one pass, so once the expected socket
// has it, any other socket that matched has it queued too: a short poll
// suffices.
func expectNothingQueued(t *testing.T, s *Socket, why string) {
	t.Helper()
	if err := s.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	defer s.SetReadDeadline(time.Time{})
	buf := make([]byte, 2048)
	payload, from, err := s.ReadFrom(buf)
	if err == nil {
		t.Fatalf("%s received %q from %v, but %s", s.NIC().Name, payload, from, why)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: %v", s.NIC().Name, err)
	}
}

// mustRun runs a command inside ns, failing the test on error.
func mustRun(t testing.TB, ns *testbed.Namespace, name string, args ...string) string {
	t.Helper()
	out, err := ns.Run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tag returns a payload unique within the test run.
func tag(format string, args ...any) string {
	return fmt.Sprintf("linkmon-test "+format, args...)
}
