package wire

import "github.com/polylink/polylink/internal/ipv4"

// isWholeIPv4Packet reports whether pkt is exactly one IPv4 packet: a
// plausible header whose total-length field covers the header and equals
// len(pkt), so a truncated or padded packet never reaches a TUN.
func isWholeIPv4Packet(pkt []byte) bool {
	ihl := ipv4.HeaderLen(pkt)
	if ihl == 0 {
		return false
	}
	total := ipv4.TotalLen(pkt)
	return total >= ihl && total == len(pkt)
}

// SkipIPv4Header strips the outer IPv4 header that a raw socket hands up with
// every packet and returns the rest, a subslice of pkt. It returns ErrShort if
// pkt is shorter than a minimal IPv4 header, and ErrLength if the version is
// not 4 or the IHL is below 5 or runs past the end of pkt.
func SkipIPv4Header(pkt []byte) ([]byte, error) {
	if len(pkt) < ipv4.MinHeaderLen {
		return nil, ErrShort
	}
	ihl := ipv4.HeaderLen(pkt)
	if ihl == 0 {
		return nil, ErrLength
	}
	return pkt[ihl:], nil
}
