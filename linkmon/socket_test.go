package linkmon

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"golang.org/x/sys/unix"
)

// twoHosts builds A and B joined by two veth pairs, with crossed host routes
// so that plain routing sends each of B's addresses through the other link:
//
//	A eth0 198.18.40.1/24 ───── B eth0 198.18.40.2/24
//	A eth1 198.18.41.1/24 ───── B eth1 198.18.41.2/24
//
//	A: 198.18.40.2/32 dev eth1, 198.18.41.2/32 dev eth0 (and B alike)
//
// A socket that is not bound to a device follows those routes the wrong way;
// a bound one must not.
func twoHosts(t *testing.T) (a, b *testbed.Namespace) {
	t.Helper()
	a = nstest.Namespace(t, "pl-lm")
	b = nstest.Namespace(t, "pl-lm")
	nstest.Veth(t, a, "eth0", "198.18.40.1/24", b, "eth0", "198.18.40.2/24")
	nstest.Veth(t, a, "eth1", "198.18.41.1/24", b, "eth1", "198.18.41.2/24")
	mustRun(t, a, "ip", "route", "add", "198.18.40.2/32", "dev", "eth1")
	mustRun(t, a, "ip", "route", "add", "198.18.41.2/32", "dev", "eth0")
	mustRun(t, b, "ip", "route", "add", "198.18.40.1/32", "dev", "eth1")
	mustRun(t, b, "ip", "route", "add", "198.18.41.1/32", "dev", "eth0")
	return a, b
}

func TestSocketSendsAndReceivesOnlyThroughItsNIC(t *testing.T) {
	a, b := twoHosts(t)
	a0 := openIn(t, a, nicIn(t, a, "eth0", "198.18.40.1"))
	a1 := openIn(t, a, nicIn(t, a, "eth1", "198.18.41.1"))
	b0 := openIn(t, b, nicIn(t, b, "eth0", "198.18.40.2"))
	b1 := openIn(t, b, nicIn(t, b, "eth1", "198.18.41.2"))
	// Wire observers: bound to a device but not to an address, they see
	// every IP-in-IP packet that arrives on that wire.
	wire0 := openIn(t, b, nicIn(t, b, "eth0", ""))
	wire1 := openIn(t, b, nicIn(t, b, "eth1", ""))
	aAddr0, aAddr1 := netip.MustParseAddr("198.18.40.1"), netip.MustParseAddr("198.18.41.1")
	bAddr0, bAddr1 := netip.MustParseAddr("198.18.40.2"), netip.MustParseAddr("198.18.41.2")

	// The control: an unbound socket with A's eth0 address follows the
	// crossed route and leaves through eth1. Without it the test could not
	// tell binding from luck.
	t.Run("unbound socket follows the route the wrong way", func(t *testing.T) {
		var fd int
		if err := a.Do(func() error {
			var err error
			fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_IPIP)
			if err != nil {
				return err
			}
			return unix.Bind(fd, &unix.SockaddrInet4{Addr: aAddr0.As4()})
		}); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		p := tag("unbound to %v", bAddr0)
		if err := unix.Sendto(fd, []byte(p), 0, &unix.SockaddrInet4{Addr: bAddr0.As4()}); err != nil {
			t.Fatal(err)
		}
		expectPacket(t, wire1, p, aAddr0)
		expectNothingQueued(t, wire0, "an unbound packet to 198.18.40.2 is routed through eth1")
		expectNothingQueued(t, b0, "it arrived on eth1 and b0 is bound to eth0")
	})

	for _, c := range []struct {
		name       string
		from       *Socket
		src, dst   netip.Addr
		wire       *Socket // the wire it must arrive on
		otherWire  *Socket
		receiver   *Socket // the NIC socket that must get it; nil for none
		notReached []*Socket
	}{
		{"A eth0 to B eth0 address", a0, aAddr0, bAddr0, wire0, wire1, b0, []*Socket{b1}},
		{"A eth1 to B eth1 address", a1, aAddr1, bAddr1, wire1, wire0, b1, []*Socket{b0}},
		// Bound to eth0 and sent to B's eth1 address: it still leaves
		// through eth0, and neither of B's NIC sockets takes it: b1 is
		// bound to eth1, b0 to another address.
		{"A eth0 to B eth1 address", a0, aAddr0, bAddr1, wire0, wire1, nil, []*Socket{b0, b1}},
		{"A eth1 to B eth0 address", a1, aAddr1, bAddr0, wire1, wire0, nil, []*Socket{b0, b1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := tag("%s", c.name)
			if err := c.from.WriteTo([]byte(p), c.dst); err != nil {
				t.Fatal(err)
			}
			expectPacket(t, c.wire, p, c.src)
			if c.receiver != nil {
				expectPacket(t, c.receiver, p, c.src)
			}
			expectNothingQueued(t, c.otherWire, "the sender is bound to the other link")
			for _, s := range c.notReached {
				expectNothingQueued(t, s, "it is bound to another device or address")
			}
		})
	}

	t.Run("replies carry the bound address as outer source", func(t *testing.T) {
		p := tag("reply")
		if err := b1.WriteTo([]byte(p), aAddr1); err != nil {
			t.Fatal(err)
		}
		expectPacket(t, a1, p, bAddr1)
		expectNothingQueued(t, a0, "the reply left through eth1")
	})
}

func TestSocketCloseUnblocksReader(t *testing.T) {
	_, b := twoHosts(t)
	s := openIn(t, b, nicIn(t, b, "eth0", "198.18.40.2"))
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.ReadFrom(make([]byte, 2048))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the reader park; the test holds either way
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked ReadFrom after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(waitFor):
		t.Fatal("ReadFrom still blocked after Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.WriteTo([]byte("x"), netip.MustParseAddr("198.18.40.1")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteTo after Close: %v, want net.ErrClosed", err)
	}
}

func TestSocketBatchRoundTrip(t *testing.T) {
	a, b := twoHosts(t)
	from := openIn(t, a, nicIn(t, a, "eth0", "198.18.40.1"))
	to := openIn(t, b, nicIn(t, b, "eth0", "198.18.40.2"))
	dst, src := netip.MustParseAddr("198.18.40.2"), netip.MustParseAddr("198.18.40.1")

	const count = 150 // more than maxBatch: WriteBatch must split
	out := make([]Message, count)
	for i := range out {
		out[i] = Message{Payload: []byte(tag("batch %03d", i)), Addr: dst}
	}
	n, err := from.WriteBatch(out)
	if err != nil || n != count {
		t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, count)
	}

	in := make([]Message, maxBatch)
	for i := range in {
		in[i].Buf = make([]byte, 2048)
	}
	if err := to.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	for got := 0; got < count; {
		n, err := to.ReadBatch(in)
		if err != nil {
			t.Fatalf("ReadBatch after %d packets: %v", got, err)
		}
		for _, m := range in[:n] {
			if want := tag("batch %03d", got); string(m.Payload) != want || m.Addr != src || m.Truncated {
				t.Fatalf("packet %d = %q from %v truncated=%v; want %q from %v", got, m.Payload, m.Addr, m.Truncated, want, src)
			}
			if m.N != len(m.Payload)+20 {
				t.Fatalf("packet %d: N = %d, want payload + 20-byte outer header = %d", got, m.N, len(m.Payload)+20)
			}
			got++
		}
	}

	t.Run("truncated", func(t *testing.T) {
		if err := from.WriteTo(make([]byte, 500), dst); err != nil {
			t.Fatal(err)
		}
		payload, _, err := to.ReadFrom(make([]byte, 100))
		if !errors.Is(err, ErrTruncated) || len(payload) != 80 {
			t.Fatalf("ReadFrom into 100 bytes = %d bytes, %v; want 80 bytes, ErrTruncated", len(payload), err)
		}
	})

	t.Run("WriteBatch stops at a bad destination", func(t *testing.T) {
		msgs := []Message{{Payload: []byte("ok"), Addr: dst}, {Payload: []byte("bad")}}
		n, err := from.WriteBatch(msgs)
		if n != 1 || err == nil {
			t.Fatalf("WriteBatch = %d, %v; want 1 and an error for the zero address", n, err)
		}
	})
}

func TestSocketWriteAllocatesNothing(t *testing.T) {
	a, b := twoHosts(t)
	from := openIn(t, a, nicIn(t, a, "eth0", "198.18.40.1"))
	openIn(t, b, nicIn(t, b, "eth0", "198.18.40.2")) // a receiver, so B sends no ICMP back
	dst := netip.MustParseAddr("198.18.40.2")
	payload := make([]byte, 200)
	msgs := make([]Message, 8)
	for i := range msgs {
		msgs[i] = Message{Payload: payload, Addr: dst}
	}
	if n := testing.AllocsPerRun(200, func() {
		if err := from.WriteTo(payload, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WriteTo allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := from.WriteBatch(msgs); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WriteBatch allocates %v times per call, want 0", n)
	}
}

func TestSocketTryWriteTo(t *testing.T) {
	a, b := twoHosts(t)
	from := openIn(t, a, nicIn(t, a, "eth0", "198.18.40.1"))
	to := openIn(t, b, nicIn(t, b, "eth0", "198.18.40.2"))
	dst := netip.MustParseAddr("198.18.40.2")
	sent, err := from.TryWriteTo([]byte("try"), dst)
	if !sent || err != nil {
		t.Fatalf("TryWriteTo = %v, %v; want sent", sent, err)
	}
	if err := to.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	payload, _, err := to.ReadFrom(make([]byte, 2048))
	if err != nil || string(payload) != "try" {
		t.Fatalf("received %q, %v; want \"try\"", payload, err)
	}
	if n := testing.AllocsPerRun(200, func() {
		if _, err := from.TryWriteTo(payload, dst); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("TryWriteTo allocates %v times per call, want 0", n)
	}
	from.Close()
	if sent, err := from.TryWriteTo([]byte("x"), dst); sent || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("TryWriteTo after Close = %v, %v; want net.ErrClosed", sent, err)
	}
}
