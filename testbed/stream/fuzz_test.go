package stream

import "testing"

// FuzzParseHeader feeds the receiver's header parser arbitrary datagrams: it
// never panics, accepts only datagrams that start with the stream's magic
// and hold a whole header, and what it accepts re-encodes to the same bytes.
func FuzzParseHeader(f *testing.F) {
	good := make([]byte, HeaderSize+8)
	putHeader(good, header{streamID: 3, seq: 42, sentNS: 1e9})
	f.Add(good)
	f.Add(good[:HeaderSize-1])
	f.Add([]byte("not a stream packet at all, but long enough"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			return
		}
		if len(b) < HeaderSize {
			t.Fatalf("accepted a %d-byte datagram", len(b))
		}
		out := make([]byte, HeaderSize)
		putHeader(out, h)
		if string(out) != string(b[:HeaderSize]) {
			t.Fatalf("header %+v re-encodes to % x, parsed from % x", h, out, b[:HeaderSize])
		}
	})
}
