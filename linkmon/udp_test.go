package linkmon

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"golang.org/x/sys/unix"
)

// dscpEF is the DSCP of expedited forwarding (46) as a TOS byte, with an
// ECN codepoint (ECT(0)) that the outer header carries too.
const dscpEF = 46<<2 | 0x02

// dualStack builds A and B joined by two veth pairs, each carrying IPv4
// and IPv6 (from 2001:2::/48, the IPv6 benchmarking block, as 198.18.0.0/15
// is IPv4's), with crossed host routes as in twoHosts:
//
//	A eth0 198.18.40.1/24 2001:2:0:40::1/64 ─── B eth0 198.18.40.2/24 2001:2:0:40::2/64
//	A eth1 198.18.41.1/24 2001:2:0:41::1/64 ─── B eth1 198.18.41.2/24 2001:2:0:41::2/64
func dualStack(t *testing.T) (a, b *testbed.Namespace) {
	t.Helper()
	a, b = twoHosts(t)
	for _, end := range []struct {
		ns   *testbed.Namespace
		host string
	}{{a, "1"}, {b, "2"}} {
		for _, net := range []string{"40", "41"} {
			dev := "eth0"
			if net == "41" {
				dev = "eth1"
			}
			mustRun(t, end.ns, "ip", "addr", "add", "2001:2:0:"+net+"::"+end.host+"/64", "dev", dev, "nodad")
		}
	}
	mustRun(t, a, "ip", "route", "add", "2001:2:0:40::2/128", "dev", "eth1")
	mustRun(t, a, "ip", "route", "add", "2001:2:0:41::2/128", "dev", "eth0")
	return a, b
}

// openUDPIn opens a UDP socket for nic on local inside ns, closed at test end.
func openUDPIn(t testing.TB, ns *testbed.Namespace, nic NIC, local string) *UDPSocket {
	t.Helper()
	var s *UDPSocket
	if err := ns.Do(func() error {
		var err error
		s, err = OpenUDPSocket(nic, netip.MustParseAddrPort(local))
		return err
	}); err != nil {
		t.Fatalf("open UDP socket on %s %s in %s: %v", nic.Name, local, ns.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// expectUDP reads from s until the packet tagged p arrives, and returns its
// source; other packets are skipped.
func expectUDP(t *testing.T, s *UDPSocket, p string) netip.AddrPort {
	t.Helper()
	if err := s.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	defer s.SetReadDeadline(time.Time{})
	buf := make([]byte, 2048)
	for {
		payload, from, err := s.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%v: waiting for %q: %v", s.LocalAddr(), p, err)
		}
		if string(payload) == p {
			return from
		}
	}
}

// expectNoUDP fails if s receives anything within a short poll.
func expectNoUDP(t *testing.T, s *UDPSocket, why string) {
	t.Helper()
	if err := s.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	defer s.SetReadDeadline(time.Time{})
	payload, from, err := s.ReadFrom(make([]byte, 2048))
	if err == nil {
		t.Fatalf("%v received %q from %v, but %s", s.LocalAddr(), payload, from, why)
	}
}

func TestUDPSocketSendsAndReceivesOnlyThroughItsNIC(t *testing.T) {
	a, b := dualStack(t)
	port := "45820"
	for _, fam := range []struct {
		name    string
		a0, a1  string
		b0, b1  string
		bracket func(string) string
	}{
		{"IPv4", "198.18.40.1", "198.18.41.1", "198.18.40.2", "198.18.41.2", func(s string) string { return s }},
		{"IPv6", "2001:2:0:40::1", "2001:2:0:41::1", "2001:2:0:40::2", "2001:2:0:41::2", func(s string) string { return "[" + s + "]" }},
	} {
		t.Run(fam.name, func(t *testing.T) {
			ep := func(addr string) string { return fam.bracket(addr) + ":" + port }
			a0 := openUDPIn(t, a, nicIn(t, a, "eth0", ""), ep(fam.a0))
			a1 := openUDPIn(t, a, nicIn(t, a, "eth1", ""), ep(fam.a1))
			b0 := openUDPIn(t, b, nicIn(t, b, "eth0", ""), ep(fam.b0))
			b1 := openUDPIn(t, b, nicIn(t, b, "eth1", ""), ep(fam.b1))

			// A's routes to B's eth0 address go through eth1; a0 is
			// pinned to eth0 and still reaches it there.
			p := tag("udp %s a0→b0", fam.name)
			if err := a0.WriteTo([]byte(p), netip.MustParseAddrPort(ep(fam.b0)), 0); err != nil {
				t.Fatal(err)
			}
			if from := expectUDP(t, b0, p); from != netip.MustParseAddrPort(ep(fam.a0)) {
				t.Fatalf("b0 got %q from %v, want %s", p, from, ep(fam.a0))
			}
			expectNoUDP(t, b1, "the packet was sent through eth0")

			// Replies in a batch, the other way round.
			msgs := make([]UDPMessage, 3)
			for i := range msgs {
				// The outer TOS arrives as sent, ECN bits included:
				// best effort, EF with ECT(0), CE.
				msgs[i] = UDPMessage{Payload: []byte(tag("udp %s b1→a1 %d", fam.name, i)), Addr: netip.MustParseAddrPort(ep(fam.a1)),
					TOS: []uint8{0, dscpEF, 0x03}[i]}
			}
			if n, err := b1.WriteBatch(msgs); n != len(msgs) || err != nil {
				t.Fatalf("WriteBatch = %d, %v", n, err)
			}
			got := make([]UDPMessage, 8)
			for i := range got {
				got[i].Buf = make([]byte, 2048)
			}
			if err := a1.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
				t.Fatal(err)
			}
			seen := 0
			for seen < len(msgs) {
				n, err := a1.ReadBatch(got)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range got[:n] {
					if string(m.Payload) != string(msgs[seen].Payload) || m.Addr != netip.MustParseAddrPort(ep(fam.b1)) {
						t.Fatalf("a1 read %q from %v, want %q from %s", m.Payload, m.Addr, msgs[seen].Payload, ep(fam.b1))
					}
					if m.TOS != msgs[seen].TOS {
						t.Errorf("a1 read %q with outer TOS %#x, want %#x", m.Payload, m.TOS, msgs[seen].TOS)
					}
					seen++
				}
			}
			expectNoUDP(t, a0, "the replies were sent through eth1")

			// The wrong family is refused, not sent.
			other := netip.MustParseAddrPort("198.18.40.2:1")
			if fam.name == "IPv4" {
				other = netip.MustParseAddrPort("[2001:2:0:40::2]:1")
			}
			if err := a0.WriteTo([]byte("x"), other, 0); err == nil {
				t.Fatalf("a %s socket sent to %v", fam.name, other)
			}
		})
	}
}

// TestOuterHeadersCarryDSCPAndDF sends an EF-marked packet on the raw, the
// UDP/IPv4 and the UDP/IPv6 socket and reads the outer headers on the far
// side: DSCP EF with the ECN bits as given (RFC 6040 normal mode copies
// the inner ECN field out), DF set (IPv4); a raw socket reads the outer TOS
// it received; and a packet larger than the link MTU is refused with
// EMSGSIZE rather than fragmented.
func TestOuterHeadersCarryDSCPAndDF(t *testing.T) {
	a, b := dualStack(t)
	nic := nicIn(t, a, "eth0", "198.18.40.1")
	raw := openIn(t, a, nic)
	u4 := openUDPIn(t, a, nic, "198.18.40.1:45820")
	u6 := openUDPIn(t, a, nic, "[2001:2:0:40::1]:45820")
	// Observers on B: a raw IP-in-IP socket and a raw UDP socket see the
	// outer IPv4 header; a UDP/IPv6 socket gets the traffic class as a
	// control message.
	rawObs := rawObserver(t, b, unix.IPPROTO_IPIP)
	rawB := openIn(t, b, nicIn(t, b, "eth0", "198.18.40.2"))
	udpObs := rawObserver(t, b, unix.IPPROTO_UDP)
	v6Obs := tclassObserver(t, b, "2001:2:0:40::2", 45820)

	if err := raw.WriteToTOS([]byte(tag("raw EF")), netip.MustParseAddr("198.18.40.2"), dscpEF); err != nil {
		t.Fatal(err)
	}
	if sent, err := raw.TryWriteToTOS([]byte(tag("raw EF try")), netip.MustParseAddr("198.18.40.2"), dscpEF); !sent || err != nil {
		t.Fatalf("TryWriteToTOS = %v, %v", sent, err)
	}
	for _, p := range []string{tag("raw EF"), tag("raw EF try")} {
		tos, df := outerOf(t, rawObs, p)
		if tos != dscpEF || !df {
			t.Errorf("raw %q: outer TOS %#x DF %v, want %#x and DF", p, tos, df, dscpEF)
		}
	}
	if err := rawB.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	got := []Message{{Buf: make([]byte, 2048)}}
	for seen := false; !seen; {
		if _, err := rawB.ReadBatch(got); err != nil {
			t.Fatalf("raw socket on B: %v", err)
		}
		if seen = string(got[0].Payload) == tag("raw EF"); seen && got[0].TOS != dscpEF {
			t.Errorf("raw ReadBatch: outer TOS %#x, want %#x", got[0].TOS, dscpEF)
		}
	}
	if err := u4.WriteTo([]byte(tag("udp4 EF")), netip.MustParseAddrPort("198.18.40.2:45820"), dscpEF); err != nil {
		t.Fatal(err)
	}
	if tos, df := outerOf(t, udpObs, tag("udp4 EF")); tos != dscpEF || !df {
		t.Errorf("UDP/IPv4: outer TOS %#x DF %v, want %#x and DF", tos, df, dscpEF)
	}
	if err := u6.WriteTo([]byte(tag("udp6 EF")), netip.MustParseAddrPort("[2001:2:0:40::2]:45820"), dscpEF); err != nil {
		t.Fatal(err)
	}
	if tc := tclassOf(t, v6Obs, tag("udp6 EF")); tc != dscpEF {
		t.Errorf("UDP/IPv6: traffic class %#x, want %#x", tc, dscpEF)
	}
	// Unmarked stays unmarked.
	if err := u4.WriteTo([]byte(tag("udp4 BE")), netip.MustParseAddrPort("198.18.40.2:45820"), 0); err != nil {
		t.Fatal(err)
	}
	if tos, _ := outerOf(t, udpObs, tag("udp4 BE")); tos != 0 {
		t.Errorf("UDP/IPv4 best effort: outer TOS %#x, want 0", tos)
	}

	big := make([]byte, 1600) // the veth MTU is 1500
	for name, send := range map[string]func() error{
		"raw":      func() error { return raw.WriteTo(big, netip.MustParseAddr("198.18.40.2")) },
		"UDP/IPv4": func() error { return u4.WriteTo(big, netip.MustParseAddrPort("198.18.40.2:45820"), 0) },
		"UDP/IPv6": func() error { return u6.WriteTo(big, netip.MustParseAddrPort("[2001:2:0:40::2]:45820"), 0) },
	} {
		if err := send(); !errors.Is(err, unix.EMSGSIZE) {
			t.Errorf("%s: sending 1,600 bytes on a 1,500-byte link: %v, want EMSGSIZE", name, err)
		}
	}
}

// rawObserver opens a raw socket of proto in ns that sees every packet of
// that protocol with its IPv4 header.
func rawObserver(t *testing.T, ns *testbed.Namespace, proto int) int {
	t.Helper()
	var fd int
	if err := ns.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	setTimeout(t, fd)
	return fd
}

// tclassObserver opens a UDP/IPv6 socket on addr:port in ns that reports
// each packet's traffic class.
func tclassObserver(t *testing.T, ns *testbed.Namespace, addr string, port int) int {
	t.Helper()
	var fd int
	if err := ns.Do(func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrInet6{Addr: netip.MustParseAddr(addr).As16(), Port: port})
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	setTimeout(t, fd)
	return fd
}

func setTimeout(t *testing.T, fd int) {
	t.Helper()
	tv := unix.NsecToTimeval(int64(waitFor))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
}

// outerOf reads packets with their IPv4 header from fd until one ends with
// payload p, and returns that header's TOS byte and DF flag.
func outerOf(t *testing.T, fd int, p string) (tos uint8, df bool) {
	t.Helper()
	buf := make([]byte, 4096)
	for range 100 {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("waiting for %q: %v", p, err)
		}
		pkt := buf[:n]
		if len(pkt) >= 20 && len(pkt) >= len(p) && string(pkt[len(pkt)-len(p):]) == p {
			return pkt[1], binary.BigEndian.Uint16(pkt[6:8])&0x4000 != 0
		}
	}
	t.Fatalf("%q never came", p)
	return 0, false
}

// tclassOf reads fd until p arrives and returns its traffic class.
func tclassOf(t *testing.T, fd int, p string) uint8 {
	t.Helper()
	buf, oob := make([]byte, 2048), make([]byte, 128)
	for range 100 {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			t.Fatalf("waiting for %q: %v", p, err)
		}
		if string(buf[:n]) != p {
			continue
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_TCLASS && len(m.Data) >= 4 {
				return uint8(binary.NativeEndian.Uint32(m.Data))
			}
		}
		t.Fatalf("%q came without a traffic class", p)
	}
	t.Fatalf("%q never came", p)
	return 0
}
