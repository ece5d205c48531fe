package wire

import "strconv"

// Kind is the bundle's message type, the low nibble of byte 3.
type Kind uint8

// The kinds of version 1; 5..15 are reserved for control messages.
const (
	KindData       Kind = 0 // one IPv4 packet from a TUN; the F bit is set
	KindProbe      Kind = 1 // a probe; body is a Probe
	KindProbeReply Kind = 2 // a probe reply; body echoes the probe's SendTime and Seq
	// KindReplyProbe is a probe reply and a probe of our own in one packet
	// (body: the reply, then the probe; see DecodeReplyProbe): the answer
	// to a probe from a path not yet proven, which proves both directions in
	// one round trip while sending only one packet per packet received.
	KindReplyProbe Kind = 3
	KindNICInfo    Kind = 4 // what the sender says of its NIC; body is a NICInfo
)

// numKinds is one past the last kind this version understands.
const numKinds = 5

// String returns "data", "probe", "probe-reply", "reply-probe", "nic-info",
// or "kind(N)" for others.
func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindProbe:
		return "probe"
	case KindProbeReply:
		return "probe-reply"
	case KindReplyProbe:
		return "reply-probe"
	case KindNICInfo:
		return "nic-info"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}
