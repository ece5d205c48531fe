package wire

import (
	"encoding/binary"
	"strconv"
)

// Version 2 is the keyed format: the same 4-byte position of Magic and
// version as version 1, so one receive path can tell them apart with
// [BundleVersion], followed by a message whose layout depends on its type.
// Every message starts with the preamble:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|       Reserved, zero          |     Magic     |  Ver  | Type  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Transport messages (data, probe) then carry a receiver index and a 64-bit
// counter; the 16-byte header is the AEAD's additional data and its last 12
// bytes are the AEAD nonce, so every header bit is authenticated:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  0  |  0  | 0xB7 | 2 | Type   |  Receiver index (32)          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Counter (64 bits)                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  ciphertext (payload length) | Poly1305 tag (16)              |
//
// The handshake messages have fixed lengths (see docs/keyed-protocol.md):
//
//	initiation  148: preamble | sender idx | ephemeral 32 | static 32+16 | timestamp 12+16 | mac1 16 | mac2 16
//	response     92: preamble | sender idx | receiver idx | ephemeral 32 | empty 0+16 | mac1 16 | mac2 16
//	cookie reply 64: preamble | receiver idx | nonce 24 | cookie 16+16
//
// Multi-byte integers are big-endian. Decoding here checks only framing;
// the session package verifies macs, tags and counters.

// Version2 is the version nibble of keyed (v2) messages.
const Version2 = 2

// MsgType is the type of a version 2 message, the low nibble of byte 3.
type MsgType uint8

// The message types of version 2; 0 and 6..15 are unknown.
const (
	MsgInitiation  MsgType = 1 // Noise IK message 1, initiator → responder
	MsgResponse    MsgType = 2 // Noise IK message 2, responder → initiator
	MsgCookieReply MsgType = 3 // responder under load → initiator: an encrypted cookie
	MsgData        MsgType = 4 // transport: one inner IPv4 packet (or nothing: keepalive)
	MsgProbe       MsgType = 5 // transport: a ProbeV2 body, sealed per path
)

// String returns the type's name or "type(N)".
func (t MsgType) String() string {
	switch t {
	case MsgInitiation:
		return "initiation"
	case MsgResponse:
		return "response"
	case MsgCookieReply:
		return "cookie-reply"
	case MsgData:
		return "data"
	case MsgProbe:
		return "probe"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Lengths and field offsets of version 2 messages.
const (
	PreambleLen        = 4
	TransportHeaderLen = 16 // preamble, receiver index, counter
	TagLen             = 16 // Poly1305 tag after every ciphertext
	TransportOverhead  = TransportHeaderLen + TagLen
	MacLen             = 16 // mac1, mac2: keyed BLAKE2s-128

	InitiationLen   = 148
	InitSenderOff   = 4
	InitNoiseOff    = 8   // Noise message 1: e(32) | enc s(48) | enc timestamp(28)
	InitNoiseLen    = 108 //
	InitMac1Off     = 116
	InitMac2Off     = 132
	TimestampLen    = 12
	ResponseLen     = 92
	RespSenderOff   = 4
	RespReceiverOff = 8
	RespNoiseOff    = 12 // Noise message 2: e(32) | enc empty payload(16)
	RespNoiseLen    = 48
	RespMac1Off     = 60
	RespMac2Off     = 76
	CookieReplyLen  = 64
	CookieRecvOff   = 4
	CookieNonceOff  = 8
	CookieNonceLen  = 24
	CookieBoxOff    = 32 // encrypted 16-byte cookie + tag
	CookieLen       = 16

	transportRecvOff    = 4
	transportCounterOff = 8
)

// V2 is the decoded clear part of a version 2 message.
type V2 struct {
	Type     MsgType
	Sender   uint32 // the sender's index: initiation, response
	Receiver uint32 // the receiver's index: response, cookie reply, data, probe
	Counter  uint64 // data, probe
}

// BundleVersion returns the version nibble of a bundle (1 for the keyless
// format, 2 for the keyed one), so a receive path can dispatch before
// decoding. It returns ErrShort or ErrMagic for what is neither.
func BundleVersion(b []byte) (uint8, error) {
	if len(b) < PreambleLen {
		return 0, ErrShort
	}
	if b[2] != Magic {
		return 0, ErrMagic
	}
	return b[3] >> versionShift, nil
}

// DecodeV2 parses the clear fields of the version 2 message b. It checks,
// in order: length of the preamble (ErrShort), magic (ErrMagic), version
// (ErrVersion), type and the reserved bytes, which must be zero (ErrKind),
// and the length the type requires (ErrLength): exact for handshake
// messages, at least TransportOverhead for data, exactly
// TransportOverhead+ProbeV2Len for a probe. On error m is the zero value.
func DecodeV2(b []byte) (m V2, err error) {
	if len(b) < PreambleLen {
		return V2{}, ErrShort
	}
	if b[2] != Magic {
		return V2{}, ErrMagic
	}
	if b[3]>>versionShift != Version2 {
		return V2{}, ErrVersion
	}
	if b[0] != 0 || b[1] != 0 {
		return V2{}, ErrKind
	}
	m.Type = MsgType(b[3] & kindMask)
	switch m.Type {
	case MsgInitiation:
		if len(b) != InitiationLen {
			return V2{}, ErrLength
		}
		m.Sender = binary.BigEndian.Uint32(b[InitSenderOff:])
	case MsgResponse:
		if len(b) != ResponseLen {
			return V2{}, ErrLength
		}
		m.Sender = binary.BigEndian.Uint32(b[RespSenderOff:])
		m.Receiver = binary.BigEndian.Uint32(b[RespReceiverOff:])
	case MsgCookieReply:
		if len(b) != CookieReplyLen {
			return V2{}, ErrLength
		}
		m.Receiver = binary.BigEndian.Uint32(b[CookieRecvOff:])
	case MsgData, MsgProbe:
		if len(b) < TransportOverhead || m.Type == MsgProbe && len(b) != TransportOverhead+ProbeV2Len {
			return V2{}, ErrLength
		}
		m.Receiver = binary.BigEndian.Uint32(b[transportRecvOff:])
		m.Counter = binary.BigEndian.Uint64(b[transportCounterOff:])
	default:
		return V2{}, ErrKind
	}
	return m, nil
}

// PutPreamble writes the version 2 preamble of type t into b[:PreambleLen].
// It returns ErrShort if b is shorter and ErrKind for an unknown type.
func PutPreamble(b []byte, t MsgType) error {
	if len(b) < PreambleLen {
		return ErrShort
	}
	if t < MsgInitiation || t > MsgProbe {
		return ErrKind
	}
	b[0], b[1], b[2] = 0, 0, Magic
	b[3] = Version2<<versionShift | uint8(t)
	return nil
}

// PutTransportHeader writes the 16-byte header of a data or probe message
// into b. It returns ErrShort if len(b) < TransportHeaderLen and ErrKind if
// t is not a transport type.
func PutTransportHeader(b []byte, t MsgType, receiver uint32, counter uint64) error {
	if t != MsgData && t != MsgProbe {
		return ErrKind
	}
	if len(b) < TransportHeaderLen {
		return ErrShort
	}
	_ = PutPreamble(b, t)
	binary.BigEndian.PutUint32(b[transportRecvOff:], receiver)
	binary.BigEndian.PutUint64(b[transportCounterOff:], counter)
	return nil
}
