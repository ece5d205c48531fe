package router

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// SetPathMTU tells the router the largest inner packet every working path
// carries (the smallest path MTU less the encapsulation; 0: unknown). A
// packet larger than that with DF set is not sent: its sender gets an ICMP
// "fragmentation needed" carrying this MTU (RFC 1191), so TCP and WebRTC
// shrink their packets instead of black-holing on a narrow path. The
// daemon lowers the TUN's MTU to the same value, so the kernel holds its
// own applications to it; this catches what was queued before and what a
// router node relays from hosts with a larger MTU.
func (r *Router) SetPathMTU(mtu int) { r.pathMTU.Store(int64(mtu)) }

// tooBig reports whether pkt exceeds the path MTU with DF set, and if so
// answers it: into the TUN for a packet from this node's kernel (from
// invalid), through the bundle to the host that sent it otherwise.
func (r *Router) tooBig(pkt []byte, from netip.Addr) bool {
	mtu := int(r.pathMTU.Load())
	if mtu < 68 || len(pkt) <= mtu || len(pkt) < 20 || binary.BigEndian.Uint16(pkt[6:8])&0x4000 == 0 {
		return false
	}
	r.stats.tooBig.Add(1)
	now := time.Now().UnixNano()
	last := r.lastICMP.Load()
	if now-last < int64(icmpMinGap) || !r.lastICMP.CompareAndSwap(last, now) {
		return true
	}
	var buf [ICMPErrorMaxLen]byte
	n, err := ICMPFragmentationNeeded(buf[:], pkt, r.prefix.Addr(), mtu)
	if err != nil {
		return true
	}
	if from.IsValid() {
		_ = r.bundles.Send(from, buf[:n])
	} else {
		r.writeTUN(buf[:n])
	}
	r.stats.icmpSent.Add(1)
	return true
}
