package wire

import "encoding/binary"

// Probe is the body of a probe and of a probe reply (which echoes SendTime
// and Seq, so the prober measures RTT and loss per connection).
type Probe struct {
	SendTime int64  // sender's monotonic clock, ns
	Seq      uint32 // probe sequence number
	Epoch    uint32 // random per daemon start; a new epoch means the peer restarted
}

// Encode writes p into b[:ProbeLen]. It returns ErrShort if len(b) < ProbeLen.
func (p *Probe) Encode(b []byte) error {
	if len(b) < ProbeLen {
		return ErrShort
	}
	binary.BigEndian.PutUint64(b[0:8], uint64(p.SendTime))
	binary.BigEndian.PutUint32(b[8:12], p.Seq)
	binary.BigEndian.PutUint32(b[12:16], p.Epoch)
	return nil
}

// DecodeReplyProbe parses a reply-probe body (KindReplyProbe): the reply,
// then the sender's own probe. It returns ErrLength unless len(body) == 2 ×
// ProbeLen; on error reply and probe are left untouched.
func DecodeReplyProbe(body []byte, reply, probe *Probe) error {
	if len(body) != 2*ProbeLen {
		return ErrLength
	}
	_ = DecodeProbe(body[:ProbeLen], reply)
	_ = DecodeProbe(body[ProbeLen:], probe)
	return nil
}

// DecodeProbe parses a probe or probe-reply body into p. It returns ErrLength
// unless len(body) == ProbeLen; on error p is left untouched.
func DecodeProbe(body []byte, p *Probe) error {
	if len(body) != ProbeLen {
		return ErrLength
	}
	*p = Probe{
		SendTime: int64(binary.BigEndian.Uint64(body[0:8])),
		Seq:      binary.BigEndian.Uint32(body[8:12]),
		Epoch:    binary.BigEndian.Uint32(body[12:16]),
	}
	return nil
}
