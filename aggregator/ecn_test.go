package aggregator

import (
	"encoding/binary"
	"testing"
)

// ipv4Sum is the one's-complement sum of an IPv4 header's 16-bit words:
// 0xffff when its checksum is right.
func ipv4Sum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// withChecksum is ipv4Packet(1) with TOS tos and a correct header checksum.
func withChecksum(tos uint8) []byte {
	p := ipv4Packet(1)
	p[1] = tos
	binary.BigEndian.PutUint16(p[10:12], ^ipv4Sum(p[:20]))
	return p
}

// TestCEMarkFollowsRFC6040 runs RFC 6040's decapsulation table (normal
// mode) on every inner and outer ECN codepoint, with a DSCP beside them:
// only an outer CE changes anything, marking an ECN-capable inner packet
// CE (its checksum still right) and dropping one that is not ECN-capable.
func TestCEMarkFollowsRFC6040(t *testing.T) {
	const ef, notECT, ect1, ect0, ce = 0xb8, 0, 1, 2, 3
	for _, c := range []struct {
		n            int
		inner, outer uint8
		want         ceAction
		wantTOS      uint8
	}{
		{1, ef | notECT, ef | notECT, ceNone, ef | notECT},
		{2, ef | ect1, ef | ect1, ceNone, ef | ect1},
		{3, ef | ect0, ef | ect0, ceNone, ef | ect0},
		{4, ef | ce, ef | ce, ceNone, ef | ce},
		{5, ef | ect1, ef | ce, ceMarked, ef | ce},     // ECT(1) + CE
		{6, ef | ect0, ef | ce, ceMarked, ef | ce},     // ECT(0) + CE
		{7, 0x02, 0x03, ceMarked, 0x03},                // no DSCP
		{8, ef | notECT, ef | ce, ceDrop, ef | notECT}, // Not-ECT + CE
		{9, ef | ect0, ef | notECT, ceNone, ef | ect0}, // outer not ECN-capable: nothing to carry
		{10, ef | ect0, ef | ect1, ceNone, ef | ect0},  // ECT(1) outer over ECT(0): RFC 6040 keeps the inner
	} {
		p := withChecksum(c.inner)
		got := ceMark(p, c.outer)
		if got != c.want || p[1] != c.wantTOS {
			t.Errorf("%d: inner %#x outer %#x: action %d TOS %#x, want %d %#x", c.n, c.inner, c.outer, got, p[1], c.want, c.wantTOS)
		}
		if sum := ipv4Sum(p[:20]); sum != 0xffff {
			t.Errorf("%d: header checksum wrong after marking (sum %#x)", c.n, sum)
		}
	}
	// Not IPv4, or too short: left alone whatever the outer mark.
	for _, p := range [][]byte{nil, {0x45, 0x02}, append([]byte{0x60, 0x02}, make([]byte, 38)...)} {
		before := string(p)
		if got := ceMark(p, 0x03); got != ceNone || string(p) != before {
			t.Errorf("ceMark(% x) = %d and changed it, want it left alone", before, got)
		}
	}
}
