package aggregator_test

import (
	"crypto/rand"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/internal/ipv4"
	"github.com/polylink/polylink/session"
	"github.com/polylink/polylink/wire"
)

// FuzzKeyedReceive is FuzzReceive for a keyed engine: arbitrary packets,
// seeded with a real initiation from the one allowed key, a keyless data
// packet and v2 transport headers. The engine takes each without
// panicking and never delivers anything (no key the fuzzer holds can seal).
func FuzzKeyedReceive(f *testing.F) {
	var delivered atomic.Value
	ours, _ := session.GeneratePrivateKey(rand.Reader)
	theirs, _ := session.GeneratePrivateKey(rand.Reader)
	node, err := session.NewNode(session.Config{PrivateKey: ours})
	if err != nil {
		f.Fatal(err)
	}
	peer, err := node.AddPeer(theirs.PublicKey(), netip.MustParsePrefix("198.19.0.3/32"))
	if err != nil {
		f.Fatal(err)
	}
	eng, err := aggregator.New(aggregator.Config{
		VIP: netip.MustParseAddr("198.19.0.2"), ProbeInterval: time.Hour, MaxHosts: 8, Router: true,
		Keyed: &aggregator.Keyed{Node: node, Hosts: map[*session.Peer]netip.Addr{peer: netip.MustParseAddr("198.19.0.3")}},
		Deliver: func(_ netip.Addr, pkt []byte) {
			if n := ipv4.HeaderLen(pkt); n == 0 || ipv4.TotalLen(pkt) != len(pkt) {
				delivered.CompareAndSwap(nil, string(pkt))
			}
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { eng.Close() })
	link := aggregator.NewFakeNetwork().NewLink(2, "eth0", netip.MustParseAddr("198.18.0.2"), "s0")
	eng.AddLink(link)

	// A real initiation from the allowed key.
	other, _ := session.NewNode(session.Config{PrivateKey: theirs})
	toUs, _ := other.AddPeer(ours.PublicKey(), netip.MustParsePrefix("0.0.0.0/0"))
	if m, err := toUs.WriteInitiation(make([]byte, 0, wire.InitiationLen), time.Now()); err == nil {
		f.Add(m, byte(3))
	}
	for _, t := range []wire.MsgType{wire.MsgData, wire.MsgProbe} {
		b := make([]byte, wire.TransportOverhead+wire.ProbeV2Len)
		_ = wire.PutTransportHeader(b, t, 1, 0)
		f.Add(b, byte(3))
	}
	v1 := make([]byte, wire.HeaderLen+20)
	_ = (&wire.Header{Kind: wire.KindData, Host: netip.MustParseAddr("198.19.0.3"), SrcIndex: 7}).Encode(v1)
	f.Add(v1, byte(3))
	f.Add([]byte{}, byte(0))

	var taken uint64
	f.Fuzz(func(t *testing.T, pkt []byte, srcHost byte) {
		if err := link.Inject(pkt, netip.AddrFrom4([4]byte{198, 18, 0, srcHost})); err != nil {
			t.Fatal(err)
		}
		taken++
		deadline := time.Now().Add(5 * time.Second)
		for eng.Status().Counters.RxPackets < taken {
			if time.Now().After(deadline) {
				t.Fatalf("the engine took %d of %d packets", eng.Status().Counters.RxPackets, taken)
			}
			time.Sleep(20 * time.Microsecond)
		}
		if b := delivered.Load(); b != nil {
			t.Fatalf("delivered a malformed packet: % x", b)
		}
		if d := eng.Status().Counters.Delivered; d != 0 {
			t.Fatalf("a keyed engine delivered %d packets sealed by nobody", d)
		}
	})
}
