package wire

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// ipv4Packet returns a minimal IPv4 packet of n bytes (n >= 20): version 4,
// IHL 5, total length n, zero-filled elsewhere. Only what wire checks is set.
func ipv4Packet(n int) []byte {
	p := make([]byte, n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(n))
	return p
}

// mustHex decodes hex with spaces allowed. Vectors are constants, so a typo
// panics when the test binary starts.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic("bad hex " + s + ": " + err.Error())
	}
	return b
}

// zeros returns the hex of n zero bytes.
func zeros(n int) string { return strings.Repeat(" 00", n) }

// join returns a fresh slice holding a followed by b.
func join(a, b []byte) []byte {
	return append(append([]byte(nil), a...), b...)
}
