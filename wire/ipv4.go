package wire

import "encoding/binary"

// ipv4MinHeaderLen is the length of an IPv4 header without options.
const ipv4MinHeaderLen = 20

// ipv4HeaderLen returns the IHL of the IPv4 header at the start of pkt in
// bytes, or 0 if pkt does not start with a plausible IPv4 header: version 4,
// IHL of at least 5 words and no longer than pkt.
func ipv4HeaderLen(pkt []byte) int {
	if len(pkt) < ipv4MinHeaderLen || pkt[0]>>4 != 4 {
		return 0
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < ipv4MinHeaderLen || ihl > len(pkt) {
		return 0
	}
	return ihl
}

// isWholeIPv4Packet reports whether pkt is exactly one IPv4 packet: a
// plausible header whose total-length field covers the header and equals
// len(pkt), so a truncated or padded packet never reaches a TUN.
func isWholeIPv4Packet(pkt []byte) bool {
	ihl := ipv4HeaderLen(pkt)
	if ihl == 0 {
		return false
	}
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	return total >= ihl && total == len(pkt)
}

// SkipIPv4Header strips the outer IPv4 header that a raw socket hands up with
// every packet and returns the rest, a subslice of pkt. It returns ErrShort if
// pkt is shorter than a minimal IPv4 header, and ErrLength if the version is
// not 4 or the IHL is below 5 or runs past the end of pkt.
func SkipIPv4Header(pkt []byte) ([]byte, error) {
	if len(pkt) < ipv4MinHeaderLen {
		return nil, ErrShort
	}
	ihl := ipv4HeaderLen(pkt)
	if ihl == 0 {
		return nil, ErrLength
	}
	return pkt[ihl:], nil
}
