package wire

import "strconv"

// Kind is the bundle's message type, the low nibble of byte 3.
type Kind uint8

// The kinds of version 1; 3..15 are reserved for control messages.
const (
	KindData       Kind = 0 // one IPv4 packet from a TUN; the F bit is set
	KindProbe      Kind = 1 // a probe; body is a Probe
	KindProbeReply Kind = 2 // a probe reply; body echoes the probe's SendTime and Seq
)

// numKinds is one past the last kind this version understands.
const numKinds = 3

// String returns "data", "probe", "probe-reply", or "kind(N)" for others.
func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindProbe:
		return "probe"
	case KindProbeReply:
		return "probe-reply"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}
