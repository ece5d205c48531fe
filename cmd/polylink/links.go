package main

import (
	"net/netip"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/linkmon"
)

// nicLink is what both link adapters share: the NIC that names the link.
type nicLink struct{ nic linkmon.NIC }

// Index implements aggregator.Link.
func (l nicLink) Index() int { return l.nic.Index }

// Name implements aggregator.Link.
func (l nicLink) Name() string { return l.nic.Name }

// readLinkBatch is ReadBatch of both adapters: it points the link's reused
// messages rx at bufs, reads them with read, and hands back each packet
// (nil if truncated), its source and its outer TOS, which out takes from a
// message.
func readLinkBatch[M any](rx *[]M, bufs, pkts [][]byte, srcs []netip.AddrPort, tos []uint8, read func([]M) (int, error),
	in func(m *M, buf []byte), out func(m *M) (pkt []byte, src netip.AddrPort, tos uint8, truncated bool)) (int, error) {
	msgs := *rx
	if len(msgs) != len(bufs) {
		msgs = make([]M, len(bufs))
		*rx = msgs
	}
	for i := range msgs {
		in(&msgs[i], bufs[i])
	}
	n, err := read(msgs)
	for i := range n {
		var truncated bool
		if pkts[i], srcs[i], tos[i], truncated = out(&msgs[i]); truncated {
			pkts[i] = nil
		}
	}
	return n, err
}

// socketLink adapts a linkmon raw IP-in-IP socket to the engine's Link
// interface: endpoints without a port.
type socketLink struct {
	nicLink
	s  *linkmon.Socket
	rx *[]linkmon.Message // ReadBatch's messages; one reader per link
}

// newSocketLink wraps a socket for the engine.
func newSocketLink(s *linkmon.Socket, nic linkmon.NIC) socketLink {
	return socketLink{nicLink: nicLink{nic}, s: s, rx: new([]linkmon.Message)}
}

// Local implements aggregator.Link: the NIC's IPv4 address, no port.
func (l socketLink) Local() netip.AddrPort { return netip.AddrPortFrom(l.nic.Addr, 0) }

// ReadFrom implements aggregator.Link.
func (l socketLink) ReadFrom(buf []byte) ([]byte, netip.AddrPort, error) {
	pkt, src, err := l.s.ReadFrom(buf)
	return pkt, netip.AddrPortFrom(src, 0), err
}

// ReadBatch implements aggregator.BatchReader over recvmmsg.
func (l socketLink) ReadBatch(bufs, pkts [][]byte, srcs []netip.AddrPort, tos []uint8) (int, error) {
	return readLinkBatch(l.rx, bufs, pkts, srcs, tos, l.s.ReadBatch,
		func(m *linkmon.Message, buf []byte) { m.Buf = buf },
		func(m *linkmon.Message) ([]byte, netip.AddrPort, uint8, bool) {
			return m.Payload, netip.AddrPortFrom(m.Addr, 0), m.TOS, m.Truncated
		})
}

// WriteTo implements aggregator.Link; the outer header carries the DSCP
// the engine gives (the inner packet's, for data).
func (l socketLink) WriteTo(pkt []byte, dst netip.AddrPort, tos uint8) error {
	return l.s.WriteToTOS(pkt, dst.Addr(), tos)
}

// TryWriteTo implements aggregator.TryWriter, like WriteTo.
func (l socketLink) TryWriteTo(pkt []byte, dst netip.AddrPort, tos uint8) (bool, error) {
	return l.s.TryWriteToTOS(pkt, dst.Addr(), tos)
}

// Close implements io.Closer: the engine closes a link it drops.
func (l socketLink) Close() error { return l.s.Close() }

// linkFeed is the NIC monitor and the goroutine that feeds its events to
// the engine: the one place linkmon meets the bundle engine.
type linkFeed struct {
	mon   *linkmon.Monitor
	peers atomic.Pointer[[]netip.Addr] // configured peers, to say which NIC has no route to one; replaced on reload
	done  chan struct{}
}

// Close stops the monitor and waits until its last event reached the
// engine, so no link is added to an engine being closed.
func (f *linkFeed) Close() {
	f.mon.Close()
	<-f.done
}

// startLinks starts the NIC monitor and feeds its NICs to eng; after each
// event, uplinks (if not nil) gets the addresses of every NIC in use.
func startLinks(cfg runConfig, peers []netip.AddrPort, eng *aggregator.Engine, log *zap.Logger, uplinks func([]netip.Addr)) (*linkFeed, error) {
	mon, err := linkmon.New(linkmon.Config{Exclude: append([]string{cfg.tun}, cfg.exclude...), Logger: log, UDPPort: cfg.port})
	if err != nil {
		return nil, err
	}
	f := &linkFeed{mon: mon, done: make(chan struct{})}
	f.setPeers(peerAddrs(peers))
	go func() {
		defer close(f.done)
		sockets := map[int]nicLinks{} // the sockets the engine uses per NIC index
		nics := map[int]linkmon.NIC{} // for uplinks
		for ev := range mon.Events() {
			switch ev.Kind {
			case linkmon.Added, linkmon.Changed:
				nics[ev.NIC.Index] = ev.NIC
				sockets[ev.NIC.Index] = sockets[ev.NIC.Index].update(eng, ev)
			case linkmon.Removed:
				delete(nics, ev.NIC.Index)
				delete(sockets, ev.NIC.Index)
				eng.RemoveLink(ev.NIC.Index)
			}
			if uplinks != nil {
				uplinks(nicAddrs(nics))
			}
		}
	}()
	return f, nil
}

// nicAddrs lists every IPv4 address of the NICs.
func nicAddrs(nics map[int]linkmon.NIC) []netip.Addr {
	var out []netip.Addr
	for _, n := range nics {
		for _, p := range n.Addrs {
			out = append(out, p.Addr())
		}
	}
	return out
}
