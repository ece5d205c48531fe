package main

import (
	"net/netip"

	"go.uber.org/zap"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/linkmon"
)

// socketLink adapts a linkmon socket to the engine's Link interface.
type socketLink struct {
	s   *linkmon.Socket
	nic linkmon.NIC
}

func (l socketLink) Index() int       { return l.nic.Index }
func (l socketLink) Name() string     { return l.nic.Name }
func (l socketLink) Addr() netip.Addr { return l.nic.Addr }
func (l socketLink) ReadFrom(buf []byte) ([]byte, netip.Addr, error) {
	return l.s.ReadFrom(buf)
}
func (l socketLink) WriteTo(pkt []byte, dst netip.Addr) error { return l.s.WriteTo(pkt, dst) }
func (l socketLink) TryWriteTo(pkt []byte, dst netip.Addr) (bool, error) {
	return l.s.TryWriteTo(pkt, dst)
}
func (l socketLink) Close() error { return l.s.Close() }

// startLinks starts the NIC monitor and feeds its events to the engine:
// this is the one place linkmon meets the bundle engine.
func startLinks(cfg runConfig, eng *aggregator.Engine, log *zap.Logger) (*linkmon.Monitor, error) {
	mon, err := linkmon.New(linkmon.Config{Exclude: append([]string{cfg.tun}, cfg.exclude...), Logger: log})
	if err != nil {
		return nil, err
	}
	go func() {
		sockets := map[int]*linkmon.Socket{} // the socket the engine uses per NIC index
		for ev := range mon.Events() {
			switch ev.Kind {
			case linkmon.Added, linkmon.Changed:
				if sockets[ev.NIC.Index] == ev.Socket {
					continue // a change that kept the socket (a second address, the MTU)
				}
				sockets[ev.NIC.Index] = ev.Socket
				eng.AddLink(socketLink{s: ev.Socket, nic: ev.NIC})
			case linkmon.Removed:
				delete(sockets, ev.NIC.Index)
				eng.RemoveLink(ev.NIC.Index)
			}
		}
	}()
	return mon, nil
}
