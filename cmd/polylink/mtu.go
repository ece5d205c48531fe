package main

import (
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/linkmon"
	"github.com/polylink/polylink/router"
	"github.com/polylink/polylink/wire"
)

// mtuInterval is how often the TUN's MTU is checked against the paths: a
// new ICMP "fragmentation needed" is followed within that.
const mtuInterval = 250 * time.Millisecond

// mtuFollower keeps the TUN's MTU at the largest inner packet every working
// path carries: the smallest path MTU (the NIC's, or less where the kernel
// learnt a narrower link on the way) less the encapsulation (outer IPv4 20
// or IPv6 40, UDP 8, bundle header 16). It never goes above max (--mtu):
// the TUN's reads are sized for that.
type mtuFollower struct {
	max    int
	bundle int // the bundle's own overhead: its header, and in keyed mode the transport header and tag
	tun    *router.TUN
	rt     *router.Router
	mon    *linkmon.Monitor
	log    *zap.Logger
	cur    int
}

// innerMTU is the largest inner packet a path to remote carries when its
// outer packets may be pathMTU bytes and the bundle adds bundle bytes.
func innerMTU(pathMTU, bundle int, remote netip.AddrPort) int {
	return pathMTU - aggregator.KindOf(remote).Overhead() - bundle
}

// bundleOverhead is what the bundle adds to each inner packet: the v1
// header, or in keyed mode the v2 transport header and the AEAD tag.
func bundleOverhead(keyed bool) int {
	if keyed {
		return wire.TransportOverhead
	}
	return wire.HeaderLen
}

// target computes the MTU the TUN should have now; ok is false with no
// path up (the MTU then stays as it is).
func (f *mtuFollower) target(st *aggregator.Status) (mtu int, why string, ok bool) {
	for _, h := range st.Hosts {
		for _, c := range h.Connections {
			if c.State != 2 {
				continue
			}
			remote, err := parseEndpoint(c.RemoteAddr)
			if err != nil {
				continue
			}
			pmtu, err := f.mon.PathMTU(c.LocalIndex, remote.Addr())
			if err != nil || pmtu == 0 {
				continue
			}
			if in := innerMTU(pmtu, f.bundle, remote); !ok || in < mtu {
				mtu, why, ok = in, c.Local+" → "+c.RemoteAddr, true
			}
		}
	}
	return min(mtu, f.max), why, ok
}

func (f *mtuFollower) run(status func() aggregator.Status, done <-chan struct{}) {
	t := time.NewTicker(mtuInterval)
	defer t.Stop()
	f.cur = f.max
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		st := status()
		mtu, why, ok := f.target(&st)
		if !ok || mtu == f.cur || mtu < router.MinMTU {
			continue
		}
		if err := f.tun.SetMTU(mtu); err != nil {
			f.log.Warn("following the path MTU failed", zap.Error(err))
			continue
		}
		f.rt.SetPathMTU(mtu)
		f.log.Info("TUN MTU follows the smallest path", zap.Int("mtu", mtu), zap.Int("was", f.cur), zap.String("path", why))
		f.cur = mtu
	}
}

// parseEndpoint reads an endpoint as status shows it (see endpointText).
func parseEndpoint(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 0), nil
	}
	return netip.ParseAddrPort(s)
}
