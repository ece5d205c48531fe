package router_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/router"
)

// bigDF is an IPv4/UDP packet of size bytes, DF set when df.
func bigDF(src, dst string, size int, df bool) []byte {
	p := udp(src, dst, 64, 1)
	p = append(p, make([]byte, size-len(p))...)
	binary.BigEndian.PutUint16(p[2:], uint16(size))
	if df {
		binary.BigEndian.PutUint16(p[6:], 0x4000)
	}
	binary.BigEndian.PutUint16(p[10:], 0)
	binary.BigEndian.PutUint16(p[10:], router.Checksum(p[:20]))
	return p
}

// TestTooBigForThePathIsAnsweredWithICMP: with a path MTU of 1,356, a
// 1,400-byte DF packet from the TUN is not sent: the application gets an
// ICMP fragmentation needed carrying 1,356 back through the TUN. Without
// DF, or within the MTU, packets go on.
func TestTooBigForThePathIsAnsweredWithICMP(t *testing.T) {
	net := aggregator.NewFakeNetwork()
	a := newVNode(t, net, "198.19.0.2/24", false, []string{"198.18.0.3"}, map[string]string{"198.18.0.2": "s0"})
	b := newVNode(t, net, "198.19.0.3/24", false, []string{"198.18.0.2"}, map[string]string{"198.18.0.3": "s0"})
	waitFor(t, "A and B proven", func() bool { return established(a.eng, "198.19.0.3") && established(b.eng, "198.19.0.2") })
	a.rt.SetPathMTU(1356)

	a.tun.Inject(bigDF("198.19.0.2", "198.19.0.3", 1400, true))
	select {
	case pkt := <-a.tun.Written():
		h, ok := router.ParseIPv4(pkt)
		if !ok || h.Protocol != 1 || h.Dst.String() != "198.19.0.2" || pkt[20] != 3 || pkt[21] != 4 {
			t.Fatalf("A's TUN got %x, want ICMP type 3 code 4 to 198.19.0.2", pkt[:min(len(pkt), 24)])
		}
		if mtu := binary.BigEndian.Uint16(pkt[26:28]); mtu != 1356 {
			t.Fatalf("ICMP carries next-hop MTU %d, want 1356", mtu)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no ICMP fragmentation needed came back into the TUN")
	}
	if c := a.rt.Status().Counters; c.TooBig != 1 || c.Sent != 0 {
		t.Fatalf("counters: too big %d sent %d, want 1 and 0", c.TooBig, c.Sent)
	}

	for _, p := range [][]byte{bigDF("198.19.0.2", "198.19.0.3", 1400, false), bigDF("198.19.0.2", "198.19.0.3", 1356, true)} {
		a.tun.Inject(p)
		select {
		case got := <-b.tun.Written():
			if len(got) != len(p) {
				t.Fatalf("B got %d bytes, want %d", len(got), len(p))
			}
		case <-time.After(waitTimeout):
			t.Fatalf("a %d-byte packet (DF %v) did not reach B", len(p), p[6]&0x40 != 0)
		}
	}
}
