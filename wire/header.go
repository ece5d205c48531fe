package wire

import (
	"encoding/binary"
	"net/netip"
)

// Format constants of version 1.
const (
	HeaderLen = 16      // bundle header length
	Magic     = 0xB7    // byte 2 of every bundle header
	Version   = 1       // the high nibble of byte 3
	IDSpace   = 1 << 13 // IDs are 13 bits: 0..8191, wrap mod IDSpace
	ProbeLen  = 16      // probe / probe-reply body length
	MaxState  = 2       // highest handshake state
)

// Bit layout of the first 16-bit word: St(2) | F(1) | ID(13).
const (
	stateShift   = 14
	forwardBit   = 1 << 13
	idMask       = IDSpace - 1
	kindMask     = 0x0f
	versionShift = 4
)

// Header is the decoded bundle header.
type Header struct {
	State    uint8      // sender's handshake state of this connection, 0..2
	Forward  bool       // F bit: body is one IPv4 packet from a TUN (set iff Kind == KindData)
	ID       uint16     // bundle sequence number, 0..8191
	Kind     Kind       // message type
	Host     netip.Addr // sender's virtual IPv4 address
	SrcIndex uint32     // sender's NIC ifindex
	DstIndex uint32     // receiver's NIC ifindex, 0 if unknown
}

// Encode writes h into b[:HeaderLen]. It returns ErrShort if len(b) <
// HeaderLen, ErrState if State > MaxState, ErrID if ID >= IDSpace, ErrKind if
// Kind is not one this version knows, ErrFlags if Forward is not set exactly
// for KindData, and ErrHost if Host is not an IPv4 address. On error b is
// left untouched.
func (h *Header) Encode(b []byte) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	switch {
	case h.State > MaxState:
		return ErrState
	case h.ID >= IDSpace:
		return ErrID
	case h.Kind >= numKinds:
		return ErrKind
	case h.Forward != (h.Kind == KindData):
		return ErrFlags
	case !h.Host.Is4():
		return ErrHost
	}
	word := uint16(h.State)<<stateShift | h.ID
	if h.Forward {
		word |= forwardBit
	}
	binary.BigEndian.PutUint16(b[0:2], word)
	b[2] = Magic
	b[3] = Version<<versionShift | uint8(h.Kind)
	host := h.Host.As4()
	copy(b[4:8], host[:])
	binary.BigEndian.PutUint32(b[8:12], h.SrcIndex)
	binary.BigEndian.PutUint32(b[12:16], h.DstIndex)
	return nil
}

// Decode parses the bundle header at the start of pkt (the bytes after the
// outer IPv4 header) into h and returns the body after it, a subslice of pkt
// (no copy). It checks, in order: length (ErrShort), magic (ErrMagic),
// version (ErrVersion), kind (ErrKind), state (ErrState), F bit against kind
// (ErrFlags), and body length (ErrLength): a data body must be exactly one
// well-formed IPv4 packet, a probe or probe reply body exactly ProbeLen
// bytes, a reply-probe body exactly 2 × ProbeLen, a NIC info body
// exactly NICInfoLen. On error h is left untouched and body is nil.
func Decode(pkt []byte, h *Header) (body []byte, err error) {
	if len(pkt) < HeaderLen {
		return nil, ErrShort
	}
	if pkt[2] != Magic {
		return nil, ErrMagic
	}
	if pkt[3]>>versionShift != Version {
		return nil, ErrVersion
	}
	kind := Kind(pkt[3] & kindMask)
	if kind >= numKinds {
		return nil, ErrKind
	}
	word := binary.BigEndian.Uint16(pkt[0:2])
	state := uint8(word >> stateShift)
	if state > MaxState {
		return nil, ErrState
	}
	forward := word&forwardBit != 0
	if forward != (kind == KindData) {
		return nil, ErrFlags
	}
	body = pkt[HeaderLen:]
	if !bodyLengthOK(kind, body) {
		return nil, ErrLength
	}
	*h = Header{
		State:    state,
		Forward:  forward,
		ID:       word & idMask,
		Kind:     kind,
		Host:     netip.AddrFrom4([4]byte(pkt[4:8])),
		SrcIndex: binary.BigEndian.Uint32(pkt[8:12]),
		DstIndex: binary.BigEndian.Uint32(pkt[12:16]),
	}
	return body, nil
}

// bodyLengthOK reports whether body's length adds up for kind, which Decode
// has already checked is known.
func bodyLengthOK(kind Kind, body []byte) bool {
	switch kind {
	case KindData:
		return isWholeIPv4Packet(body)
	case KindReplyProbe:
		return len(body) == 2*ProbeLen
	case KindNICInfo:
		return len(body) == NICInfoLen
	}
	return len(body) == ProbeLen
}

// NextID returns the ID that follows id, wrapping mod IDSpace.
func NextID(id uint16) uint16 {
	return (id + 1) & idMask
}
