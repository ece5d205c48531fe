package router

import (
	"net/netip"
	"testing"
)

// fuzzBundles is a Bundles that knows two hosts and records what is sent.
type fuzzBundles struct {
	gateway netip.Addr // invalid: none
	sent    []fuzzSent
}

type fuzzSent struct {
	to  netip.Addr
	pkt []byte
}

var fuzzHosts = []netip.Addr{netip.MustParseAddr("198.19.0.3"), netip.MustParseAddr("198.19.0.4")}

func (b *fuzzBundles) Send(host netip.Addr, pkt []byte) error {
	b.sent = append(b.sent, fuzzSent{host, append([]byte(nil), pkt...)})
	return nil
}

func (b *fuzzBundles) HasHost(vip netip.Addr) bool {
	return vip == fuzzHosts[0] || vip == fuzzHosts[1]
}

func (b *fuzzBundles) Gateway() (netip.Addr, bool) { return b.gateway, b.gateway.IsValid() }

// fuzzRouter returns a router at 198.19.0.1/24 (a router node when relay,
// else a host whose gateway is 198.19.0.3), with a static route to
// 198.19.200.0/24 via 198.19.0.4.
func fuzzRouter(t *testing.T, relay bool) (*Router, *fuzzBundles, *FakeTUN) {
	b := &fuzzBundles{}
	if !relay {
		b.gateway = fuzzHosts[0]
	}
	tun := NewFakeTUN("pl0", 9, 1464)
	t.Cleanup(func() { tun.Close() })
	r := New(Config{Device: tun, Prefix: netip.MustParsePrefix("198.19.0.1/24"), Relay: relay,
		Routes: []Route{{Prefix: netip.MustParsePrefix("198.19.200.0/24"), Via: fuzzHosts[1]}}}, b)
	return r, b, tun
}

// drain returns what was written to the TUN since the last call.
func drain(tun *FakeTUN) (pkts [][]byte) {
	for {
		select {
		case p := <-tun.Written():
			pkts = append(pkts, p)
		default:
			return pkts
		}
	}
}

func fuzzSeeds(f *testing.F) {
	f.Add(buildIPv4("198.19.0.3", "198.19.0.1", ProtocolUDP, 64, nil, []byte("to this node")), true, byte(3))
	f.Add(buildIPv4("198.19.0.3", "198.19.0.4", ProtocolUDP, 64, nil, []byte("transit")), true, byte(3))
	f.Add(buildIPv4("198.19.0.3", "198.19.0.9", ProtocolUDP, 1, nil, []byte("ttl")), true, byte(3))
	f.Add(buildIPv4("198.19.200.7", "198.19.0.255", ProtocolICMP, 9, []byte{1, 1, 1, 0}, []byte("bcast")), false, byte(4))
	f.Add([]byte{0x45, 0, 0, 20}, false, byte(3))
}

// FuzzDeliver feeds the router inner packets as the bundle engine delivers
// them from a host: it never panics, answers one packet with at most one,
// writes to the TUN only well-formed packets for this node, and sends back
// to the sender only an ICMP error from this node.
func FuzzDeliver(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, pkt []byte, relay bool, fromHost byte) {
		r, b, tun := fuzzRouter(t, relay)
		from := netip.AddrFrom4([4]byte{198, 19, 0, fromHost})
		r.Deliver(from, pkt)
		written := drain(tun)
		if n := len(written) + len(b.sent); n > 1 {
			t.Fatalf("one delivered packet caused %d (TUN %d, sent %d)", n, len(written), len(b.sent))
		}
		for _, w := range written {
			h, ok := ParseIPv4(w)
			if !ok || (h.Dst != r.prefix.Addr() && !r.isLocalBroadcast(h.Dst)) {
				t.Fatalf("wrote % x to the TUN: not a packet for this node", w)
			}
		}
		for _, s := range b.sent {
			h, ok := ParseIPv4(s.pkt)
			if !ok || h.TotalLen != len(s.pkt) {
				t.Fatalf("sent malformed % x to %v", s.pkt, s.to)
			}
			if !relay && s.to != from {
				t.Fatalf("a plain host relayed % x to %v", s.pkt, s.to)
			}
			if s.to == from && (h.Protocol != ProtocolICMP || h.Src != r.prefix.Addr()) {
				t.Fatalf("sent % x back to its sender %v", s.pkt, from)
			}
		}
	})
}

// FuzzRoute feeds the router packets as read from the TUN: it never panics,
// sends each at most once, only well formed and cut to its stated length,
// and never answers the local kernel with ICMP through a bundle.
func FuzzRoute(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, pkt []byte, relay bool, _ byte) {
		r, b, tun := fuzzRouter(t, relay)
		r.route(pkt, netip.Addr{})
		if w := drain(tun); len(w) != 0 {
			t.Fatalf("a packet from the TUN was written back to it: % x", w[0])
		}
		if len(b.sent) > 1 {
			t.Fatalf("one TUN packet sent %d times", len(b.sent))
		}
		for _, s := range b.sent {
			h, ok := ParseIPv4(s.pkt)
			if !ok || h.TotalLen != len(s.pkt) || !b.HasHost(s.to) {
				t.Fatalf("sent % x to %v", s.pkt, s.to)
			}
		}
	})
}
