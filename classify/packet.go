package classify

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"github.com/polylink/polylink/internal/ipv4"
)

// IP protocol numbers the classifier names.
const (
	ProtoICMP = 1
	ProtoTCP  = 6
	ProtoUDP  = 17
)

// Flow is a packet's 5-tuple: the key of the flow table. Ports are 0 for
// protocols without them and for fragments after the first (whose ports
// are in another packet).
type Flow struct {
	Src, Dst     [4]byte
	Proto        uint8
	SPort, DPort uint16
}

// String renders the flow as "udp 198.19.0.2:5000 → 198.19.0.3:6000".
func (f Flow) String() string {
	src, dst := netip.AddrFrom4(f.Src), netip.AddrFrom4(f.Dst)
	if f.SPort == 0 && f.DPort == 0 {
		return protoName(f.Proto) + " " + src.String() + " → " + dst.String()
	}
	return protoName(f.Proto) + " " + netip.AddrPortFrom(src, f.SPort).String() + " → " +
		netip.AddrPortFrom(dst, f.DPort).String()
}

// Packet is what the classifier reads of an inner IPv4 packet.
type Packet struct {
	Flow
	DSCP uint8
	// Ports is set when SPort and DPort were read: TCP or UDP, the first
	// (or only) fragment, with the transport header's first 4 bytes there.
	Ports bool
}

// Parse reads the classifier's fields from the IPv4 packet at the start of
// pkt. ok is false when pkt is not one: shorter than 20 bytes, another
// version, an IHL below 5 or past the end. Ports are read only where they
// are; a truncated transport header leaves them 0. It never allocates.
func Parse(pkt []byte) (p Packet, ok bool) {
	ihl := ipv4.HeaderLen(pkt)
	if ihl == 0 {
		return Packet{}, false
	}
	p.DSCP = pkt[1] >> 2
	p.Proto = pkt[9]
	copy(p.Src[:], pkt[12:16])
	copy(p.Dst[:], pkt[16:20])
	fragOff := binary.BigEndian.Uint16(pkt[6:8]) & 0x1fff
	if (p.Proto == ProtoTCP || p.Proto == ProtoUDP) && fragOff == 0 && len(pkt) >= ihl+4 {
		p.SPort = binary.BigEndian.Uint16(pkt[ihl:])
		p.DPort = binary.BigEndian.Uint16(pkt[ihl+2:])
		p.Ports = true
	}
	return p, true
}

func protoName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	}
	return "proto=" + strconv.Itoa(int(p))
}
