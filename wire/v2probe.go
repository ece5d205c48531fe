package wire

import (
	"encoding/binary"
	"net/netip"
)

// ProbeV2Len is the plaintext length of a version 2 probe body.
const ProbeV2Len = 28

// ProbeV2 is the body of a keyed probe or probe reply. It travels sealed
// (inside a MsgProbe), one probe per path, so the path's identity and state
// are authenticated and a probe can never be moved to another path unseen:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Flags     |     State     |        Reserved, zero         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      SrcPath: the sender's id of its local end of this path   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      DstPath: the receiver's SrcPath as last seen, 0 unknown  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Seq: probe sequence                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         SendTime: sender's monotonic clock, ns (64)           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Host: the sender's virtual (IPv4) address                |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Flags bit 0 is Reply (the body echoes a probe's Seq and SendTime), bit 1
// Metered (the sender's NIC of this path is metered: keep bulk off it); the
// other bits must be zero. State is the sender's 3-state handshake of the
// path, 0..MaxState. Host is the sender's virtual address: a data message
// carries no host field, so the receiver learns which host a key speaks for
// from its sealed probes (and checks the key covers it).
type ProbeV2 struct {
	Reply    bool
	Metered  bool
	State    uint8
	SrcPath  uint32
	DstPath  uint32
	Seq      uint32
	SendTime uint64
	Host     netip.Addr // IPv4; the zero value encodes as 0.0.0.0
}

const (
	probeReplyFlag   = 1
	probeMeteredFlag = 2
)

// Encode writes p into b[:ProbeV2Len]. It returns ErrShort if b is shorter
// and ErrState if State > MaxState.
func (p *ProbeV2) Encode(b []byte) error {
	if len(b) < ProbeV2Len {
		return ErrShort
	}
	if p.State > MaxState {
		return ErrState
	}
	b[0] = 0
	if p.Reply {
		b[0] = probeReplyFlag
	}
	if p.Metered {
		b[0] |= probeMeteredFlag
	}
	b[1], b[2], b[3] = p.State, 0, 0
	binary.BigEndian.PutUint32(b[4:], p.SrcPath)
	binary.BigEndian.PutUint32(b[8:], p.DstPath)
	binary.BigEndian.PutUint32(b[12:], p.Seq)
	binary.BigEndian.PutUint64(b[16:], p.SendTime)
	var host [4]byte
	if p.Host.Is4() {
		host = p.Host.As4()
	}
	copy(b[24:28], host[:])
	return nil
}

// DecodeProbeV2 parses an opened probe body. It returns ErrLength unless
// len(b) == ProbeV2Len, ErrFlags for unknown flag or reserved bits, and
// ErrState for a state above MaxState; on error p is untouched.
func DecodeProbeV2(b []byte, p *ProbeV2) error {
	if len(b) != ProbeV2Len {
		return ErrLength
	}
	if b[0]&^(probeReplyFlag|probeMeteredFlag) != 0 || b[2] != 0 || b[3] != 0 {
		return ErrFlags
	}
	if b[1] > MaxState {
		return ErrState
	}
	*p = ProbeV2{
		Reply:    b[0]&probeReplyFlag != 0,
		Metered:  b[0]&probeMeteredFlag != 0,
		State:    b[1],
		SrcPath:  binary.BigEndian.Uint32(b[4:]),
		DstPath:  binary.BigEndian.Uint32(b[8:]),
		Seq:      binary.BigEndian.Uint32(b[12:]),
		SendTime: binary.BigEndian.Uint64(b[16:]),
		Host:     netip.AddrFrom4([4]byte(b[24:28])),
	}
	return nil
}
