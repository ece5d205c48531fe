package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
)

// Numbered vectors: the preamble bytes, then the fields DecodeV2 reads.
var v2Vectors = []struct {
	hex  string // message prefix; padded with zeros to n bytes
	n    int
	want V2
	err  error
}{
	0:  {"0000b721" + "01020304", InitiationLen, V2{Type: MsgInitiation, Sender: 0x01020304}, nil},
	1:  {"0000b722" + "01020304" + "0a0b0c0d", ResponseLen, V2{Type: MsgResponse, Sender: 0x01020304, Receiver: 0x0a0b0c0d}, nil},
	2:  {"0000b723" + "0a0b0c0d", CookieReplyLen, V2{Type: MsgCookieReply, Receiver: 0x0a0b0c0d}, nil},
	3:  {"0000b724" + "0a0b0c0d" + "0000000000000102", TransportOverhead, V2{Type: MsgData, Receiver: 0x0a0b0c0d, Counter: 0x102}, nil},
	4:  {"0000b724" + "0a0b0c0d" + "ffffffffffffffff", TransportOverhead + 1400, V2{Type: MsgData, Receiver: 0x0a0b0c0d, Counter: ^uint64(0)}, nil},
	5:  {"0000b725" + "00000001" + "0000000000000000", TransportOverhead + ProbeV2Len, V2{Type: MsgProbe, Receiver: 1}, nil},
	6:  {"0000b7", 3, V2{}, ErrShort},
	7:  {"0000b821", InitiationLen, V2{}, ErrMagic},
	8:  {"0000b711", InitiationLen, V2{}, ErrVersion},
	9:  {"0100b721", InitiationLen, V2{}, ErrKind},
	10: {"0000b720", InitiationLen, V2{}, ErrKind},
	11: {"0000b726", InitiationLen, V2{}, ErrKind},
	12: {"0000b721", InitiationLen - 1, V2{}, ErrLength},
	13: {"0000b722", ResponseLen + 1, V2{}, ErrLength},
	14: {"0000b723", CookieReplyLen - 1, V2{}, ErrLength},
	15: {"0000b724", TransportOverhead - 1, V2{}, ErrLength},
	16: {"0000b725", TransportOverhead + ProbeV2Len + 1, V2{}, ErrLength},
}

func v2Bytes(h string, n int) []byte {
	b, err := hex.DecodeString(h)
	if err != nil {
		panic(err)
	}
	if len(b) > n {
		return b[:n]
	}
	return append(b, make([]byte, n-len(b))...)
}

func TestDecodeV2Vectors(t *testing.T) {
	for i, v := range v2Vectors {
		got, err := DecodeV2(v2Bytes(v.hex, v.n))
		if !errors.Is(err, v.err) || got != v.want {
			t.Errorf("vector %d: got %+v, %v; want %+v, %v", i, got, err, v.want, v.err)
		}
	}
}

func TestBundleVersion(t *testing.T) {
	if v, err := BundleVersion(v2Bytes("0000b724", 32)); v != 2 || err != nil {
		t.Fatalf("v2: %d %v", v, err)
	}
	if v, err := BundleVersion(v2Bytes("4001b710", 16)); v != 1 || err != nil {
		t.Fatalf("v1: %d %v", v, err)
	}
	if _, err := BundleVersion([]byte{0, 0, 0xb8, 0x24}); err != ErrMagic {
		t.Fatalf("foreign: %v", err)
	}
}

func TestTransportHeaderRoundTrip(t *testing.T) {
	b := make([]byte, TransportOverhead)
	if err := PutTransportHeader(b, MsgProbe, 7, 1<<40); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:4], []byte{0, 0, 0xb7, 0x25}) {
		t.Fatalf("preamble % x", b[:4])
	}
	if err := PutTransportHeader(b, MsgInitiation, 7, 1); err != ErrKind {
		t.Fatalf("handshake type as transport: %v", err)
	}
	if err := PutTransportHeader(b[:15], MsgData, 7, 1); err != ErrShort {
		t.Fatalf("short: %v", err)
	}
	b = append(b, make([]byte, ProbeV2Len)...)
	m, err := DecodeV2(b)
	if err != nil || m != (V2{Type: MsgProbe, Receiver: 7, Counter: 1 << 40}) {
		t.Fatalf("round trip: %+v %v", m, err)
	}
}

func TestProbeV2(t *testing.T) {
	p := ProbeV2{Reply: true, State: 2, SrcPath: 3, DstPath: 4, Seq: 5, SendTime: 6, Host: netip.MustParseAddr("198.19.0.7")}
	b := make([]byte, ProbeV2Len)
	if err := p.Encode(b); err != nil {
		t.Fatal(err)
	}
	want := "01020000" + "00000003" + "00000004" + "00000005" + "0000000000000006" + "c6130007"
	if hex.EncodeToString(b) != want {
		t.Fatalf("encoded %x", b)
	}
	var q ProbeV2
	if err := DecodeProbeV2(b, &q); err != nil || q != p {
		t.Fatalf("decoded %+v %v", q, err)
	}
	for i, c := range []struct {
		hex string
		err error
	}{
		0: {"04020000", ErrFlags},
		1: {"00030000", ErrState},
		2: {"00000100", ErrFlags},
	} {
		bad := v2Bytes(c.hex, ProbeV2Len)
		if err := DecodeProbeV2(bad, &q); err != c.err {
			t.Errorf("case %d: %v, want %v", i, err, c.err)
		}
	}
	if err := DecodeProbeV2(b[:ProbeV2Len-1], &q); err != ErrLength {
		t.Fatalf("short: %v", err)
	}
	if err := (&ProbeV2{State: 3}).Encode(b); err != ErrState {
		t.Fatalf("bad state encoded: %v", err)
	}
}

func TestV2ZeroAllocs(t *testing.T) {
	b := v2Bytes("0000b724", TransportOverhead+1200)
	pb := make([]byte, ProbeV2Len)
	var p ProbeV2
	var sink error
	if n := testing.AllocsPerRun(1000, func() {
		_, sink = DecodeV2(b)
		sink = PutTransportHeader(b, MsgData, 1, 2)
		sink = p.Encode(pb)
		sink = DecodeProbeV2(pb, &p)
	}); n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
	_ = sink
}

// FuzzDecodeV2: never a panic, only wire.Errors, and an accepted message
// has the length its type requires and re-encodes its preamble exactly.
func FuzzDecodeV2(f *testing.F) {
	for _, v := range v2Vectors {
		f.Add(v2Bytes(v.hex, v.n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeV2(b)
		if err != nil {
			if _, ok := err.(Error); !ok || m != (V2{}) {
				t.Fatalf("error %T %v with %+v", err, err, m)
			}
			return
		}
		pre := make([]byte, PreambleLen)
		if err := PutPreamble(pre, m.Type); err != nil || !bytes.Equal(pre, b[:PreambleLen]) {
			t.Fatalf("preamble % x re-encodes as % x (%v)", b[:PreambleLen], pre, err)
		}
		if m.Type == MsgData || m.Type == MsgProbe {
			h := make([]byte, TransportHeaderLen)
			PutTransportHeader(h, m.Type, m.Receiver, m.Counter)
			if !bytes.Equal(h, b[:TransportHeaderLen]) {
				t.Fatalf("transport header % x re-encodes as % x", b[:TransportHeaderLen], h)
			}
		}
	})
}

// FuzzDecodeProbeV2: never a panic; an accepted body re-encodes exactly.
func FuzzDecodeProbeV2(f *testing.F) {
	f.Add(v2Bytes("01020000", ProbeV2Len))
	f.Add(v2Bytes("03020000", ProbeV2Len))
	f.Add(v2Bytes("07020000", ProbeV2Len))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p ProbeV2
		if err := DecodeProbeV2(b, &p); err != nil {
			if _, ok := err.(Error); !ok {
				t.Fatalf("error %T", err)
			}
			return
		}
		out := make([]byte, ProbeV2Len)
		if err := p.Encode(out); err != nil || !bytes.Equal(out, b) {
			t.Fatalf("% x re-encodes as % x (%v)", b, out, err)
		}
	})
}
