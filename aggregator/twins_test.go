package aggregator

import (
	"net/netip"
	"testing"
	"time"
)

// TestRawTwinCarriesUDPStandsBy: A reaches B's one NIC both raw (--peer
// ADDR) and over UDP (--peer ADDR:PORT) through its own one NIC. While
// both work, each packet crosses once, raw; the UDP path is up, marked
// standby, carries nothing and B drops no duplicate. When IP-in-IP is
// blocked on that uplink, the UDP path carries every packet.
func TestRawTwinCarriesUDPStandsBy(t *testing.T) {
	net := NewFakeNetwork()
	sb := newSink()
	const probe = 20 * time.Millisecond
	bRaw, bUDP := netip.MustParseAddrPort("198.18.0.3:0"), netip.MustParseAddrPort("198.18.0.3:45820")
	a, err := New(Config{VIP: vipA, Peers: []netip.AddrPort{bRaw, bUDP}, ProbeInterval: probe, DeadInterval: 5 * probe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := New(Config{VIP: vipB, Router: true, ProbeInterval: probe, DeadInterval: 5 * probe, Deliver: sb.deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	// One NIC each (one index), raw and UDP on separate fake segments so
	// that IP-in-IP alone can be blocked.
	a.AddLink(net.NewLink(10, "wwan0", addr("198.18.0.2"), "raw"))
	a.AddLink(net.NewEndpointLink(10, "wwan0", netip.MustParseAddrPort("198.18.0.2:45820"), "udp"))
	b.AddLink(net.NewLink(20, "eth0", bRaw.Addr(), "raw"))
	b.AddLink(net.NewEndpointLink(20, "eth0", bUDP, "udp"))
	waitFor(t, "raw and UDP paths up at both ends", 2*time.Second,
		func() bool { return upConns(a, vipB) == 2 && upConns(b, vipA) == 2 }, a, b)

	send := func(from, n uint32) {
		for i := from; i < from+n; i++ {
			if err := a.Send(vipB, ipv4Packet(i)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		waitFor(t, "every packet delivered", 2*time.Second, func() bool { u, _ := sb.counts(); return u == int(from+n) }, a, b)
	}
	paths := func() (raw, udp ConnStatus) {
		for _, c := range a.Status().Hosts[0].Connections {
			if c.Encap == "udp" {
				udp = c
			} else {
				raw = c
			}
		}
		return raw, udp
	}
	const n = 200
	send(0, n)
	raw, udp := paths()
	t.Logf("both work: raw sent %d copies, UDP %d (standby %v); B dropped %d duplicates",
		raw.TxRealtimePackets, udp.TxRealtimePackets, udp.Standby, b.Status().Hosts[0].DuplicatesDropped)
	if raw.TxRealtimePackets != n || udp.TxRealtimePackets != 0 || !udp.Standby || udp.Carrying || udp.State != 2 || raw.Standby {
		t.Errorf("both work: raw %+v\nudp %+v\nwant every copy raw, UDP up and standing by", raw, udp)
	}
	if d := b.Status().Hosts[0].DuplicatesDropped; d != 0 {
		t.Errorf("B dropped %d duplicates: two copies crossed one uplink", d)
	}

	net.SetDown("raw", true) // a NAT on the uplink starts passing only TCP/UDP/ICMP
	waitFor(t, "A's raw path down", 2*time.Second, func() bool { r, _ := paths(); return r.State != 2 }, a, b)
	send(n, n)
	raw, udp = paths()
	t.Logf("IP-in-IP blocked: UDP sent %d copies (standby %v)", udp.TxRealtimePackets, udp.Standby)
	if udp.TxRealtimePackets != n || udp.Standby || !udp.Carrying {
		t.Errorf("IP-in-IP blocked: udp %+v; want it carrying all %d", udp, n)
	}
}
