package wire

import (
	"bytes"
	"testing"
	"unsafe"
)

// FuzzDecode feeds Decode arbitrary bytes. Decode must never panic, a body is
// always pkt[HeaderLen:] itself, and a decoded header re-encodes to the same
// 16 bytes (the format has no slack bits that Decode ignores).
func FuzzDecode(f *testing.F) {
	for _, v := range goldenHeaders {
		f.Add(join(mustHex(v.hex), v.body))
	}
	for _, c := range decodeErrorCases {
		f.Add(join(mustHex(c.pkt), c.body))
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var h Header
		body, err := Decode(pkt, &h)
		if err != nil {
			if _, ok := err.(Error); !ok {
				t.Fatalf("Decode returned %T %v, want a wire.Error", err, err)
			}
			if body != nil {
				t.Fatalf("Decode returned a body with error %v", err)
			}
		} else {
			if len(body) != len(pkt)-HeaderLen || len(body) == 0 ||
				unsafe.SliceData(body) != &pkt[HeaderLen] {
				t.Fatalf("body (len %d) is not pkt[HeaderLen:] (len %d)", len(body), len(pkt))
			}
			out := make([]byte, HeaderLen)
			if err := h.Encode(out); err != nil {
				t.Fatalf("decoded %+v does not re-encode: %v", h, err)
			}
			if !bytes.Equal(out, pkt[:HeaderLen]) {
				t.Fatalf("re-encoded % X, decoded from % X", out, pkt[:HeaderLen])
			}
			if h.Kind == KindReplyProbe {
				var r, p Probe
				if err := DecodeReplyProbe(body, &r, &p); err != nil {
					t.Fatalf("reply-probe body accepted by Decode rejected by DecodeReplyProbe: %v", err)
				}
				two := make([]byte, 2*ProbeLen)
				if r.Encode(two) != nil || p.Encode(two[ProbeLen:]) != nil || !bytes.Equal(two, body) {
					t.Fatalf("reply-probe re-encoded % X, decoded from % X", two, body)
				}
			} else if h.Kind == KindProbe || h.Kind == KindProbeReply {
				var p Probe
				if err := DecodeProbe(body, &p); err != nil {
					t.Fatalf("probe body accepted by Decode rejected by DecodeProbe: %v", err)
				}
				if err := p.Encode(out); err != nil || !bytes.Equal(out, body) {
					t.Fatalf("probe re-encoded % X (%v), decoded from % X", out, err, body)
				}
			}
		}

		// The same bytes as a raw socket's delivery: the rest is a suffix.
		rest, err := SkipIPv4Header(pkt)
		if err == nil && (len(rest) > len(pkt)-20 || !bytes.Equal(rest, pkt[len(pkt)-len(rest):])) {
			t.Fatalf("SkipIPv4Header returned %d bytes that are not a suffix of %d", len(rest), len(pkt))
		}
	})
}

// FuzzDecodeProbe feeds DecodeProbe arbitrary probe bodies: it never panics,
// accepts exactly ProbeLen bytes, and what it accepts re-encodes to the same
// bytes.
func FuzzDecodeProbe(f *testing.F) {
	f.Add(make([]byte, ProbeLen))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0xde, 0xad, 0xbe, 0xef})
	f.Add(make([]byte, ProbeLen+1))
	f.Fuzz(func(t *testing.T, body []byte) {
		p := Probe{SendTime: 7, Seq: 7, Epoch: 7}
		err := DecodeProbe(body, &p)
		if len(body) != ProbeLen {
			if err != ErrLength || p != (Probe{SendTime: 7, Seq: 7, Epoch: 7}) {
				t.Fatalf("DecodeProbe(%d bytes) = %v, probe %+v; want ErrLength, probe untouched", len(body), err, p)
			}
			return
		}
		if err != nil {
			t.Fatalf("DecodeProbe(%d bytes): %v", len(body), err)
		}
		out := make([]byte, ProbeLen)
		if err := p.Encode(out); err != nil || !bytes.Equal(out, body) {
			t.Fatalf("probe re-encoded % X (%v), decoded from % X", out, err, body)
		}
	})
}
