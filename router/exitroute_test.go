package router

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
)

// stubBundles is a Bundles with a fixed host set that records what it sent.
type stubBundles struct {
	hosts map[netip.Addr]bool
	mu    sync.Mutex
	sent  []netip.Addr // next hop of each Send
}

func (s *stubBundles) Send(host netip.Addr, pkt []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, host)
	return nil
}

func (s *stubBundles) HasHost(vip netip.Addr) bool { return s.hosts[vip] }

func (s *stubBundles) Gateway() (netip.Addr, bool) { return netip.Addr{}, false }

func (s *stubBundles) take() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent
	s.sent = nil
	return out
}

func udpPacket(src, dst string) []byte {
	p := make([]byte, 48)
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], Checksum(p[:20]))
	return p
}

// TestExitSendsOutsideTrafficToTUN: on an exit router node a packet for an
// address outside the virtual network and its routes goes to the kernel
// (the TUN) untouched; everything inside is relayed as before; without
// --exit the outside is unreachable.
func TestExitSendsOutsideTrafficToTUN(t *testing.T) {
	hostA, hostB := netip.MustParseAddr("198.19.0.2"), netip.MustParseAddr("198.19.0.3")
	for _, exit := range []bool{true, false} {
		b := &stubBundles{hosts: map[netip.Addr]bool{hostA: true, hostB: true}}
		tun := NewFakeTUN("pl0", 9, 1464)
		r := New(Config{Device: tun, Prefix: netip.MustParsePrefix("198.19.0.1/24"), Relay: true, Exit: exit,
			Routes: []Route{{Prefix: netip.MustParsePrefix("198.18.210.0/24"), Via: hostA}}}, b)

		out := udpPacket("198.19.0.2", "198.18.74.2")
		r.Deliver(hostA, out)
		if exit {
			select {
			case got := <-tun.Written():
				if string(got) != string(out) {
					t.Errorf("exit: the TUN got a changed packet (TTL is the kernel's to count down)")
				}
			default:
				t.Fatalf("exit: a packet for an outside address did not reach the TUN")
			}
			if c := r.Status().Counters; c.Exited != 1 || c.NoRoute != 0 {
				t.Errorf("exit: counters %+v, want exited 1, no_route 0", c)
			}
		} else if c := r.Status().Counters; c.Exited != 0 || c.NoRoute != 1 || len(tun.Written()) != 0 {
			t.Errorf("no exit: counters %+v, %d written to the TUN; want no_route 1, nothing written", c, len(tun.Written()))
		}
		b.take() // the ICMP unreachable, without --exit

		r.Deliver(hostA, udpPacket("198.19.0.2", "198.19.0.3"))
		r.Deliver(hostB, udpPacket("198.19.0.3", "198.18.210.9"))
		if got := b.take(); len(got) != 2 || got[0] != hostB || got[1] != hostA {
			t.Errorf("exit=%v: relayed to %v, want [%s %s] (host, then static route)", exit, got, hostB, hostA)
		}
		r.Deliver(hostA, udpPacket("198.19.0.2", "198.19.0.77")) // an unknown host: never out of the exit
		if n := len(tun.Written()); n != 0 || r.Status().Counters.NoRoute == 0 {
			t.Errorf("exit=%v: a packet for an unknown virtual host went to the TUN (%d) or was not counted", exit, n)
		}
		if r.Status().Exit != exit {
			t.Errorf("status exit = %v, want %v", r.Status().Exit, exit)
		}
		tun.Close()
	}
}

// TestSetRoutesWhileRunning: a reload's new routes take over at once; a
// destination whose route went leaves by the exit.
func TestSetRoutesWhileRunning(t *testing.T) {
	hostA, hostB := netip.MustParseAddr("198.19.0.2"), netip.MustParseAddr("198.19.0.3")
	b := &stubBundles{hosts: map[netip.Addr]bool{hostA: true, hostB: true}}
	tun := NewFakeTUN("pl0", 9, 1464)
	defer tun.Close()
	lan := netip.MustParsePrefix("198.18.210.0/24")
	r := New(Config{Device: tun, Prefix: netip.MustParsePrefix("198.19.0.1/24"), Relay: true, Exit: true,
		Routes: []Route{{Prefix: lan, Via: hostA}}}, b)

	r.Deliver(hostB, udpPacket("198.19.0.3", "198.18.210.9"))
	r.SetRoutes([]Route{{Prefix: lan, Via: hostB}})
	r.Deliver(hostA, udpPacket("198.19.0.2", "198.18.210.9"))
	if got := b.take(); len(got) != 2 || got[0] != hostA || got[1] != hostB {
		t.Fatalf("relayed to %v, want [%s %s]: the new route's next hop after SetRoutes", got, hostA, hostB)
	}
	if st := r.Status(); len(st.Routes) != 1 || st.Routes[0].Via != hostB.String() {
		t.Errorf("status routes %+v after SetRoutes", st.Routes)
	}
	r.SetRoutes(nil)
	r.Deliver(hostA, udpPacket("198.19.0.2", "198.18.210.9"))
	if len(b.take()) != 0 || len(tun.Written()) != 1 {
		t.Errorf("with the route gone, the packet should leave by the exit (TUN), not a host")
	}
}
