package classify

import "encoding/binary"

// pkt builds an IPv4 packet: proto, DSCP, addresses, ports (written for
// TCP and UDP), fragment offset in 8-byte units, with a payload to total.
func pkt(proto, dscp uint8, src, dst [4]byte, sport, dport uint16, fragOff uint16, total int) []byte {
	b := make([]byte, total)
	b[0] = 0x45
	b[1] = dscp << 2
	binary.BigEndian.PutUint16(b[2:4], uint16(total))
	binary.BigEndian.PutUint16(b[6:8], fragOff&0x1fff)
	b[8] = 64
	b[9] = proto
	copy(b[12:16], src[:])
	copy(b[16:20], dst[:])
	if (proto == ProtoTCP || proto == ProtoUDP) && total >= 24 {
		binary.BigEndian.PutUint16(b[20:22], sport)
		binary.BigEndian.PutUint16(b[22:24], dport)
	}
	return b
}

var (
	vmA = [4]byte{198, 19, 0, 2}
	vmB = [4]byte{198, 19, 0, 3}
	vmC = [4]byte{198, 19, 1, 9}
)
