package wire

import "encoding/binary"

// NICInfoLen is the length of a NIC info body.
const NICInfoLen = 4

// NIC info flags.
const (
	// NICMetered: the sender pays for traffic on this NIC (LTE): the far end
	// keeps bulk traffic off paths to it while another path works.
	NICMetered uint32 = 1 << 0
)

// NICInfo is the body of a KindNICInfo message: what the sender says of
// the NIC it sent the message from (the header's SrcIndex). Bits this
// version does not know are ignored.
type NICInfo struct {
	Flags uint32
}

// Encode writes n into b[:NICInfoLen]. It returns ErrShort if b is shorter.
func (n *NICInfo) Encode(b []byte) error {
	if len(b) < NICInfoLen {
		return ErrShort
	}
	binary.BigEndian.PutUint32(b, n.Flags)
	return nil
}

// DecodeNICInfo parses a NIC info body into n. It returns ErrLength unless
// len(body) == NICInfoLen; on error n is left untouched.
func DecodeNICInfo(body []byte, n *NICInfo) error {
	if len(body) != NICInfoLen {
		return ErrLength
	}
	n.Flags = binary.BigEndian.Uint32(body)
	return nil
}
