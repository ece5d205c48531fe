package linkmon

import (
	"net/netip"
	"testing"
	"time"
)

// TestUDPSocketAllocatesNothing pins the UDP path's per-packet cost as the
// raw socket's is pinned (TestSocketWriteAllocatesNothing): WriteTo,
// TryWriteTo and ReadBatch allocate nothing once warm.
func TestUDPSocketAllocatesNothing(t *testing.T) {
	a, b := dualStack(t)
	from := openUDPIn(t, a, nicIn(t, a, "eth0", ""), "198.18.40.1:45820")
	to := openUDPIn(t, b, nicIn(t, b, "eth0", ""), "198.18.40.2:45820")
	dst := netip.MustParseAddrPort("198.18.40.2:45820")
	payload := make([]byte, 200)
	msgs := make([]UDPMessage, 1)
	msgs[0].Buf = make([]byte, 2048)
	if err := to.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	// One write and one read per run, so the receive buffer never fills.
	if n := testing.AllocsPerRun(200, func() {
		if err := from.WriteTo(payload, dst, 0xb8); err != nil {
			t.Fatal(err)
		}
		if _, err := to.ReadBatch(msgs); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WriteTo + ReadBatch allocate %v times per packet, want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() {
		if sent, err := from.TryWriteTo(payload, dst, 0); !sent || err != nil {
			t.Fatalf("TryWriteTo = %v, %v", sent, err)
		}
		if _, err := to.ReadBatch(msgs); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("TryWriteTo + ReadBatch allocate %v times per packet, want 0", n)
	}
	if msgs[0].Addr != netip.MustParseAddrPort("198.18.40.1:45820") || msgs[0].N != len(payload) {
		t.Fatalf("read %d bytes from %v, want %d from 198.18.40.1:45820", msgs[0].N, msgs[0].Addr, len(payload))
	}
}
