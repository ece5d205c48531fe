package router

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/polylink/polylink/internal/ipv4"
)

// IPv4 header offsets and sizes (RFC 791) the helpers below rely on.
const (
	ipv4MinHeaderLen = ipv4.MinHeaderLen
	ipv4MaxHeaderLen = ipv4.MaxHeaderLen
	ipv4TTLOffset    = 8
	ipv4CsumOffset   = 10
	icmpHeaderLen    = 8
	// icmpQuoteData is how much of the original payload an ICMP error
	// quotes after its IP header: the first 64 bits (RFC 792).
	icmpQuoteData = 8
	// icmpErrorTTL is the TTL of the ICMP errors this package builds.
	icmpErrorTTL = 64
)

// IP protocol numbers the router looks at.
const (
	ProtocolICMP = 1
	ProtocolTCP  = 6
	ProtocolUDP  = 17
)

// ICMP types and codes of the errors a router sends (RFC 792, RFC 1812).
const (
	ICMPTypeDestinationUnreachable = 3
	ICMPTypeTimeExceeded           = 11

	ICMPCodeNetUnreachable      = 0
	ICMPCodeHostUnreachable     = 1
	ICMPCodeProtocolUnreachable = 2
	ICMPCodePortUnreachable     = 3
	ICMPCodeFragmentationNeeded = 4
	ICMPCodeTTLExceeded         = 0
)

// ICMPErrorMaxLen is the longest ICMP error the builders write: its IP and
// ICMP headers, then the original's header with options (at most 60 bytes)
// and 8 bytes of its payload. A buffer of this size always suffices.
const ICMPErrorMaxLen = ipv4MinHeaderLen + icmpHeaderLen + ipv4MaxHeaderLen + icmpQuoteData

// IPv4Info is what the router reads from an IPv4 header.
type IPv4Info struct {
	Src, Dst netip.Addr
	TTL      uint8
	Protocol uint8
	// HeaderLen is the header length in bytes, options included (IHL*4).
	HeaderLen int
	// TotalLen is the packet length the header states; bytes of pkt beyond
	// it are not part of the packet.
	TotalLen int
	// FragmentOffset is the fragment's offset in bytes; non-zero for every
	// fragment but the first.
	FragmentOffset int
	// MoreFragments is the MF flag: more fragments of this datagram follow.
	MoreFragments bool
}

// ParseIPv4 reads the header of the IPv4 packet at the start of pkt. ok is
// true only for a well-formed header: version 4, IHL of at least 5, and
// HeaderLen ≤ TotalLen ≤ len(pkt). It does not verify the header checksum
// (the kernel did for packets read from a TUN). It never allocates.
func ParseIPv4(pkt []byte) (h IPv4Info, ok bool) {
	headerLen := ipv4.HeaderLen(pkt)
	if headerLen == 0 || len(pkt) < ipv4MinHeaderLen {
		// (HeaderLen checked the length already; saying it again here
		// lets the compiler drop the bounds checks below.)
		return IPv4Info{}, false
	}
	totalLen := ipv4.TotalLen(pkt)
	if headerLen > totalLen || totalLen > len(pkt) {
		return IPv4Info{}, false
	}
	frag := binary.BigEndian.Uint16(pkt[6:8])
	return IPv4Info{
		Src:            ipv4.Src(pkt),
		Dst:            ipv4.Dst(pkt),
		TTL:            pkt[ipv4TTLOffset],
		Protocol:       pkt[9],
		HeaderLen:      headerLen,
		TotalLen:       totalLen,
		FragmentOffset: int(frag&0x1fff) * 8,
		MoreFragments:  frag&0x2000 != 0,
	}, true
}

// Checksum returns the Internet checksum of b (RFC 1071): the ones'
// complement of the ones'-complement sum of its 16-bit words, an odd last
// byte padded with zero. Over a header holding its correct checksum it
// returns 0. It never allocates.
func Checksum(b []byte) uint16 {
	var sum uint64
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	// Fold 64 → 16 bits with end-around carry; four folds always suffice.
	for range 4 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// DecrementTTL decrements the TTL of the IPv4 packet in pkt and updates its
// header checksum incrementally (RFC 1624, eqn. 3), so a router touches two
// bytes instead of summing the header. It returns false and leaves pkt
// unchanged if the TTL is 1 or 0 (the router must drop the packet and may
// answer ICMPTimeExceeded) or pkt is not an IPv4 header.
func DecrementTTL(pkt []byte) bool {
	if len(pkt) < ipv4MinHeaderLen || pkt[0]>>4 != 4 || pkt[ipv4TTLOffset] <= 1 {
		return false
	}
	// The TTL is the high byte of the 16-bit word it shares with the protocol.
	oldWord := uint32(binary.BigEndian.Uint16(pkt[ipv4TTLOffset:]))
	newWord := oldWord - 0x0100
	oldCsum := uint32(binary.BigEndian.Uint16(pkt[ipv4CsumOffset:]))
	// HC' = ~(~HC + ~m + m'). Here ~m + m' is always 0xfeff, so the sum is
	// below 0x1ff00 and one fold of the carry suffices.
	sum := ^oldCsum&0xffff + ^oldWord&0xffff + newWord
	sum = sum&0xffff + sum>>16
	pkt[ipv4TTLOffset]--
	binary.BigEndian.PutUint16(pkt[ipv4CsumOffset:], ^uint16(sum))
	return true
}

// ErrICMPNotAllowed is wrapped by the ICMP builders' errors for a packet no
// ICMP error may answer (RFC 1122 3.2.2, RFC 1812 4.3.2.7): an ICMP error, a
// non-initial fragment, a packet to a multicast or broadcast address, or from
// an address that is not a unicast host. The caller drops such a packet
// silently.
var ErrICMPNotAllowed = errors.New("no ICMP error may answer it (RFC 1122 3.2.2): drop the packet silently")

// The builders' errors are values made once, so a refusal allocates nothing.
var (
	errICMPAboutICMPError = fmt.Errorf("packet is an ICMP error: %w", ErrICMPNotAllowed)
	errICMPAboutFragment  = fmt.Errorf("packet is a non-initial fragment: %w", ErrICMPNotAllowed)
	errICMPAboutGroup     = fmt.Errorf("packet is sent to a multicast or broadcast address: %w", ErrICMPNotAllowed)
	errICMPToNonHost      = fmt.Errorf("packet's source is not a unicast host: %w", ErrICMPNotAllowed)
	errICMPMalformed      = errors.New("build ICMP error: the original is not a well-formed IPv4 packet: drop it and count it as malformed")
	errICMPFromNotIPv4    = errors.New("build ICMP error: the source address is not IPv4: pass the router's virtual IPv4 address")
	errICMPShortBuffer    = errors.New("build ICMP error: buffer too short: pass one of at least ICMPErrorMaxLen bytes")
	errICMPBadMTU         = errors.New("build ICMP fragmentation needed: next-hop MTU outside 68..65535: pass the MTU of the link the packet did not fit")
)

// ICMPUnreachable writes into buf an ICMP destination unreachable with the
// given code (ICMPCode…) from the router address from to orig's source,
// quoting orig's IP header and first 8 payload bytes (RFC 792), with valid
// IP and ICMP checksums. It returns the message length, at most
// ICMPErrorMaxLen. For ICMPCodeFragmentationNeeded use ICMPFragmentationNeeded,
// which carries the next-hop MTU. An error wrapping ErrICMPNotAllowed means
// orig must not be answered. It never allocates.
func ICMPUnreachable(buf, orig []byte, from netip.Addr, code uint8) (int, error) {
	return buildICMPError(buf, orig, from, ICMPTypeDestinationUnreachable, code, 0)
}

// ICMPFragmentationNeeded is ICMPUnreachable with code 4 and the next-hop MTU
// (RFC 1191), which tells the sender's path MTU discovery how large its
// packets may be.
func ICMPFragmentationNeeded(buf, orig []byte, from netip.Addr, mtu int) (int, error) {
	if mtu < 68 || mtu > MaxMTU {
		return 0, errICMPBadMTU
	}
	return buildICMPError(buf, orig, from, ICMPTypeDestinationUnreachable, ICMPCodeFragmentationNeeded, uint16(mtu))
}

// ICMPTimeExceeded is ICMPUnreachable's counterpart for a packet whose TTL
// ran out (DecrementTTL returned false): type 11, code 0.
func ICMPTimeExceeded(buf, orig []byte, from netip.Addr) (int, error) {
	return buildICMPError(buf, orig, from, ICMPTypeTimeExceeded, ICMPCodeTTLExceeded, 0)
}

func buildICMPError(buf, orig []byte, from netip.Addr, typ, code uint8, mtu uint16) (int, error) {
	if !from.Is4() {
		return 0, errICMPFromNotIPv4
	}
	h, ok := ParseIPv4(orig)
	if !ok {
		return 0, errICMPMalformed
	}
	if err := icmpErrorAllowed(orig, h); err != nil {
		return 0, err
	}
	quoteLen := h.HeaderLen + min(icmpQuoteData, h.TotalLen-h.HeaderLen)
	n := ipv4MinHeaderLen + icmpHeaderLen + quoteLen
	if len(buf) < n {
		return 0, errICMPShortBuffer
	}
	buf = buf[:n]

	ip := buf[:ipv4MinHeaderLen]
	ip[0] = 0x45 // version 4, IHL 5
	ip[1] = 0xc0 // precedence: internetwork control, as RFC 1812 4.3.2.5 asks
	binary.BigEndian.PutUint16(ip[2:], uint16(n))
	binary.BigEndian.PutUint16(ip[4:], 0)      // ID: unused, the packet is atomic
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF: 96 bytes fit any IPv4 path
	ip[ipv4TTLOffset] = icmpErrorTTL
	ip[9] = ProtocolICMP
	binary.BigEndian.PutUint16(ip[ipv4CsumOffset:], 0)
	from4 := from.As4()
	copy(ip[12:16], from4[:])
	copy(ip[16:20], orig[12:16])
	binary.BigEndian.PutUint16(ip[ipv4CsumOffset:], Checksum(ip))

	icmp := buf[ipv4MinHeaderLen:]
	icmp[0] = typ
	icmp[1] = code
	binary.BigEndian.PutUint16(icmp[2:], 0)
	binary.BigEndian.PutUint16(icmp[4:], 0)
	binary.BigEndian.PutUint16(icmp[6:], mtu)
	copy(icmp[icmpHeaderLen:], orig[:quoteLen])
	binary.BigEndian.PutUint16(icmp[2:], Checksum(icmp))
	return n, nil
}

// icmpErrorAllowed applies the rules of RFC 1812 4.3.2.7 to the packet an
// ICMP error would answer.
func icmpErrorAllowed(orig []byte, h IPv4Info) error {
	if h.FragmentOffset != 0 {
		return errICMPAboutFragment
	}
	if h.Dst.IsMulticast() || h.Dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return errICMPAboutGroup
	}
	if !h.Src.IsGlobalUnicast() && !h.Src.IsLinkLocalUnicast() {
		return errICMPToNonHost
	}
	if h.Protocol == ProtocolICMP {
		if h.TotalLen == h.HeaderLen || isICMPErrorType(orig[h.HeaderLen]) {
			return errICMPAboutICMPError
		}
	}
	return nil
}

// isICMPErrorType reports whether an ICMP type is an error message. Types
// beyond 18 are unknown and, as in Linux, treated as errors to be safe.
func isICMPErrorType(t uint8) bool {
	switch t {
	case 3, 4, 5, 11, 12: // unreachable, source quench, redirect, time exceeded, parameter problem
		return true
	}
	return t > 18
}
