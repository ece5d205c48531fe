// Package ipv4 reads the fixed fields of an IPv4 header (RFC 791) from a
// packet in place: the one parser behind the outer header a raw socket
// hands up (linkmon), the inner packet a bundle carries (wire) and the
// packets the router forwards. It does no I/O and never allocates.
//
// It imports no polylink package, so every layer may use it.
package ipv4

import (
	"encoding/binary"
	"net/netip"
)

// MinHeaderLen is the length of an IPv4 header without options.
const MinHeaderLen = 20

// MaxHeaderLen is the length of an IPv4 header with the most options
// (IHL 15).
const MaxHeaderLen = 60

// HeaderLen returns the length in bytes of the IPv4 header at the start of
// pkt, options included, or 0 if pkt does not start with a plausible one:
// at least MinHeaderLen bytes, version 4, IHL of at least 5 words and no
// longer than pkt. It does not look at the total-length field.
func HeaderLen(pkt []byte) int {
	if len(pkt) < MinHeaderLen || pkt[0]>>4 != 4 {
		return 0
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < MinHeaderLen || ihl > len(pkt) {
		return 0
	}
	return ihl
}

// TotalLen returns the total-length field of the header at the start of
// pkt, which must be at least MinHeaderLen bytes (HeaderLen(pkt) != 0).
func TotalLen(pkt []byte) int { return int(binary.BigEndian.Uint16(pkt[2:4])) }

// Src returns the source address of the header at the start of pkt, which
// must be at least MinHeaderLen bytes.
func Src(pkt []byte) netip.Addr { return netip.AddrFrom4([4]byte(pkt[12:16])) }

// Dst returns the destination address of the header at the start of pkt,
// which must be at least MinHeaderLen bytes.
func Dst(pkt []byte) netip.Addr { return netip.AddrFrom4([4]byte(pkt[16:20])) }
