package linkmon

import (
	"testing"
	"unsafe"
)

// FuzzParseOuterHeader feeds parseOuterHeader what a raw socket could hand
// up: it never panics, and an accepted packet's payload is the packet after
// a header of IHL×4 bytes, with the header's source address.
func FuzzParseOuterHeader(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 24, 0, 0, 0, 0, 64, 4, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2, 1, 2, 3, 4})
	f.Add([]byte{0x46, 0, 0, 24, 0, 0, 0, 0, 64, 4, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2, 1, 1, 1, 0})
	f.Add([]byte{0x4f})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		payload, src, ok := parseOuterHeader(pkt)
		if !ok {
			if payload != nil || src.IsValid() {
				t.Fatalf("rejected % x but returned payload %d bytes, source %v", pkt, len(payload), src)
			}
			return
		}
		ihl := int(pkt[0]&0x0f) * 4
		if pkt[0]>>4 != 4 || ihl < 20 || len(payload) != len(pkt)-ihl {
			t.Fatalf("accepted % x with a %d-byte payload", pkt, len(payload))
		}
		if len(payload) > 0 && unsafe.SliceData(payload) != &pkt[ihl] {
			t.Fatal("payload is not a subslice of the packet after its header")
		}
		if src.As4() != [4]byte(pkt[12:16]) {
			t.Fatalf("source %v, header says % x", src, pkt[12:16])
		}
	})
}
