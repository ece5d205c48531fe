package aggregator

import (
	"net/netip"
	"testing"
	"time"
)

// batchFake is a FakeLink that reads in batches, as linkmon's sockets do.
type batchFake struct{ *FakeLink }

func (b batchFake) ReadBatch(bufs, pkts [][]byte, srcs []netip.AddrPort, _ []uint8) (int, error) {
	pkt, src, err := b.ReadFrom(bufs[0])
	if err != nil {
		return 0, err
	}
	pkts[0], srcs[0] = pkt, src
	n := 1
	for n < len(bufs) {
		select {
		case p := <-b.inbox:
			k := copy(bufs[n], p.data)
			pkts[n], srcs[n] = bufs[n][:k], p.src
			if k < len(p.data) {
				pkts[n] = nil // truncated
			}
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

func TestBatchReadingDeliversEveryPacketOnce(t *testing.T) {
	net := NewFakeNetwork()
	sa, sb := newSink(), newSink()
	aAddrs := []netip.Addr{addr("198.18.0.2"), addr("198.18.1.2")}
	bAddrs := []netip.Addr{addr("198.18.0.3"), addr("198.18.1.3")}
	a, err := New(Config{VIP: vipA, Peers: raw(bAddrs...), ProbeInterval: 20 * time.Millisecond, DeadInterval: time.Second, Deliver: sa.deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := New(Config{VIP: vipB, Peers: raw(aAddrs...), ProbeInterval: 20 * time.Millisecond, DeadInterval: time.Second, Deliver: sb.deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	for i, seg := range []string{"s0", "s1"} {
		a.AddLink(batchFake{net.NewLink(10+i, "eth"+seg[1:], aAddrs[i], seg)})
		b.AddLink(batchFake{net.NewLink(20+i, "eth"+seg[1:], bAddrs[i], seg)})
	}
	waitFor(t, "paths up", 2*time.Second, func() bool { return upConns(a, vipB) == 2 })
	const n = 3000
	for i := range uint32(n) {
		a.Send(vipB, ipv4Packet(i))
		if i%200 == 199 {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(t, "all delivered once", 2*time.Second, func() bool { u, _ := sb.counts(); return u == n })
	waitFor(t, "every copy in", 2*time.Second, func() bool { return allCopiesIn(a, b) }, a, b)
	if d := b.Status().Counters.DuplicatesDropped; d == 0 {
		t.Fatal("no duplicate dropped: nothing was duplicated")
	}
	if _, dups := sb.counts(); dups != 0 {
		t.Fatalf("application saw %d duplicates", dups)
	}
}
