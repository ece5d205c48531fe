package main

import (
	"net/netip"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/linkmon"
)

// udpLink adapts a linkmon UDP socket to the engine's Link interface:
// endpoints with a port, IPv4 or IPv6 as the socket is.
type udpLink struct {
	nicLink
	s  *linkmon.UDPSocket
	rx *[]linkmon.UDPMessage // ReadBatch's messages; one reader per link
}

func newUDPLink(s *linkmon.UDPSocket, nic linkmon.NIC) udpLink {
	return udpLink{nicLink: nicLink{nic}, s: s, rx: new([]linkmon.UDPMessage)}
}

// Local implements aggregator.Link: the bound address and port.
func (l udpLink) Local() netip.AddrPort { return l.s.LocalAddr() }

// ReadFrom implements aggregator.Link.
func (l udpLink) ReadFrom(buf []byte) ([]byte, netip.AddrPort, error) { return l.s.ReadFrom(buf) }

// ReadBatch implements aggregator.BatchReader over recvmmsg.
func (l udpLink) ReadBatch(bufs, pkts [][]byte, srcs []netip.AddrPort, tos []uint8) (int, error) {
	return readLinkBatch(l.rx, bufs, pkts, srcs, tos, l.s.ReadBatch,
		func(m *linkmon.UDPMessage, buf []byte) { m.Buf = buf },
		func(m *linkmon.UDPMessage) ([]byte, netip.AddrPort, uint8, bool) {
			return m.Payload, m.Addr, m.TOS, m.Truncated
		})
}

// WriteTo implements aggregator.Link; the outer header carries the DSCP
// the engine gives (the inner packet's, for data).
func (l udpLink) WriteTo(pkt []byte, dst netip.AddrPort, tos uint8) error {
	return l.s.WriteTo(pkt, dst, tos)
}

// TryWriteTo implements aggregator.TryWriter, like WriteTo.
func (l udpLink) TryWriteTo(pkt []byte, dst netip.AddrPort, tos uint8) (bool, error) {
	return l.s.TryWriteTo(pkt, dst, tos)
}

// Close implements io.Closer: the engine closes a link it drops.
func (l udpLink) Close() error { return l.s.Close() }

// nicLinks is the sockets of one NIC the engine uses.
type nicLinks struct {
	raw        *linkmon.Socket
	udp4, udp6 *linkmon.UDPSocket
}

// update gives the engine the sockets of an Added or Changed event that
// differ from those it has (a new address means a new socket), removes the
// links of sockets the NIC no longer has, and returns the new set.
func (have nicLinks) update(eng *aggregator.Engine, ev linkmon.Event) nicLinks {
	idx := ev.NIC.Index
	switch {
	case ev.Socket == nil && have.raw != nil:
		eng.RemoveLinkOf(idx, aggregator.KindIPIP)
	case ev.Socket != nil && ev.Socket != have.raw:
		eng.AddLink(newSocketLink(ev.Socket, ev.NIC))
	}
	for _, u := range []struct {
		now, had *linkmon.UDPSocket
		kind     aggregator.Kind
	}{{ev.UDP4, have.udp4, aggregator.KindUDP4}, {ev.UDP6, have.udp6, aggregator.KindUDP6}} {
		switch {
		case u.now == nil && u.had != nil:
			eng.RemoveLinkOf(idx, u.kind)
		case u.now != nil && u.now != u.had:
			eng.AddLink(newUDPLink(u.now, ev.NIC))
		}
	}
	return nicLinks{raw: ev.Socket, udp4: ev.UDP4, udp6: ev.UDP6}
}
