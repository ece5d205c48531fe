package aggregator

import "encoding/binary"

// ECN codepoints, the low two bits of the IPv4 TOS byte (RFC 3168).
const (
	ecnMask   = 0x03
	ecnNotECT = 0x00
	ecnCE     = 0x03
)

// decapECN carries a congestion mark from the outer header into inner
// packet pkt before delivery, as RFC 6040's decapsulation table says:
// outer CE on an ECN-capable inner packet (ECT(0), ECT(1)) makes it CE,
// its header checksum updated in place; outer CE on an inner packet that
// is not ECN-capable cannot be passed on, so that copy is dropped (false)
// and the sender learns of the congestion from the loss. Anything else is
// delivered unchanged: every outer copy starts with the inner ECN field
// (innerTOS), so only a congested router, or a middlebox, sets CE on it.
func (e *Engine) decapECN(pkt []byte, outerTOS uint8) bool {
	switch ceMark(pkt, outerTOS) {
	case ceDrop:
		e.stats.ceDropped.Add(1)
		return false
	case ceMarked:
		e.stats.ceMarked.Add(1)
	}
	return true
}

type ceAction uint8

const (
	ceNone   ceAction = iota // nothing to do
	ceMarked                 // pkt now carries CE
	ceDrop                   // outer CE, inner not ECN-capable: drop
)

// ceMark is decapECN's pure core: it marks pkt (an IPv4 packet; anything
// else is left alone) and says what it did.
func ceMark(pkt []byte, outerTOS uint8) ceAction {
	if outerTOS&ecnMask != ecnCE || len(pkt) < 20 || pkt[0]>>4 != 4 {
		return ceNone
	}
	switch pkt[1] & ecnMask {
	case ecnCE:
		return ceNone
	case ecnNotECT:
		return ceDrop
	}
	old := binary.BigEndian.Uint16(pkt[0:2])
	pkt[1] |= ecnCE
	// RFC 1624's incremental update: HC' = ~(~HC + ~m + m').
	sum := uint32(^binary.BigEndian.Uint16(pkt[10:12])) + uint32(^old) + uint32(binary.BigEndian.Uint16(pkt[0:2]))
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(pkt[10:12], ^uint16(sum))
	return ceMarked
}
