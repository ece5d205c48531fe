package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

var (
	vipRouter = netip.MustParseAddr("198.19.0.1")
	vipVM0    = netip.MustParseAddr("198.19.0.2")
	vipVM2    = netip.MustParseAddr("198.19.0.3")
)

// goldenHeaders are hand-assembled from the drawing in doc.go. The first
// three are spelled out byte by byte; the rest use the same recipe.
var goldenHeaders = []struct {
	h    Header
	hex  string
	body []byte // a body that makes the packet decodable
}{
	// 0: data from VM0, state 2, ID 0x1ABC.
	//   bytes 0-1: St=2 -> 10, F=1 -> 1, ID=0x1ABC -> 1 1010 1011 1100
	//              10 1 1101010111100 = 1011 1010 1011 1100 = 0xBA 0xBC
	//   byte 2:    magic 0xB7
	//   byte 3:    Ver=1 -> 0001, Kind=0 -> 0000 = 0x10
	//   bytes 4-7: 198.19.0.2 = 0xC6 0x13 0x00 0x02
	//   8-11:      Src index 3; 12-15: Dst index 7
	{
		h:    Header{State: 2, Forward: true, ID: 0x1ABC, Kind: KindData, Host: vipVM0, SrcIndex: 3, DstIndex: 7},
		hex:  "BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07",
		body: ipv4Packet(20),
	},
	// 1: probe from the router, state 0, ID 0, destination NIC unknown.
	//   bytes 0-1: St=00, F=0, ID=0 -> 0x00 0x00
	//   byte 3:    Ver=1, Kind=1 -> 0x11
	//   bytes 4-7: 198.19.0.1; Src index 2; Dst index 0
	{
		h:    Header{State: 0, ID: 0, Kind: KindProbe, Host: vipRouter, SrcIndex: 2},
		hex:  "00 00 B7 11 C6 13 00 01 00 00 00 02 00 00 00 00",
		body: make([]byte, ProbeLen),
	},
	// 2: probe reply from VM2, state 1, the largest ID 8191.
	//   bytes 0-1: St=01, F=0, ID=1 1111 1111 1111
	//              01 0 1111111111111 = 0101 1111 1111 1111 = 0x5F 0xFF
	//   byte 3:    Ver=1, Kind=2 -> 0x12
	//   Src index 0xDEADBEEF checks all four bytes land big-endian.
	{
		h:    Header{State: 1, ID: 8191, Kind: KindProbeReply, Host: vipVM2, SrcIndex: 0xDEADBEEF, DstIndex: 1},
		hex:  "5F FF B7 12 C6 13 00 03 DE AD BE EF 00 00 00 01",
		body: make([]byte, ProbeLen),
	},
	// 3: data, state 0, ID 1: 00 1 0000000000001 = 0x20 0x01.
	{
		h:    Header{Forward: true, ID: 1, Kind: KindData, Host: netip.MustParseAddr("10.0.0.1"), SrcIndex: 1, DstIndex: 2},
		hex:  "20 01 B7 10 0A 00 00 01 00 00 00 01 00 00 00 02",
		body: ipv4Packet(1200),
	},
	// 4: data, state 1, ID 4096: 01 1 1000000000000 = 0x70 0x00.
	{
		h:    Header{State: 1, Forward: true, ID: 4096, Kind: KindData, Host: netip.MustParseAddr("255.255.255.255"), SrcIndex: 0xFFFFFFFF, DstIndex: 0xFFFFFFFF},
		hex:  "70 00 B7 10 FF FF FF FF FF FF FF FF FF FF FF FF",
		body: ipv4Packet(64),
	},
	// 5: probe reply, state 2, ID 0x0155: 10 0 0000101010101 = 0x81 0x55.
	{
		h:    Header{State: 2, ID: 0x0155, Kind: KindProbeReply, Host: netip.MustParseAddr("0.0.0.0"), SrcIndex: 0x01020304, DstIndex: 0x05060708},
		hex:  "81 55 B7 12 00 00 00 00 01 02 03 04 05 06 07 08",
		body: make([]byte, ProbeLen),
	},
}

func TestEncodeGolden(t *testing.T) {
	for i, v := range goldenHeaders {
		want := mustHex(v.hex)
		got := make([]byte, HeaderLen)
		if err := v.h.Encode(got); err != nil {
			t.Errorf("vector %d: Encode: %v", i, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("vector %d: Encode = % X, want % X", i, got, want)
		}
	}
}

func TestDecodeGolden(t *testing.T) {
	for i, v := range goldenHeaders {
		pkt := join(mustHex(v.hex), v.body)
		var got Header
		body, err := Decode(pkt, &got)
		if err != nil {
			t.Errorf("vector %d: Decode: %v", i, err)
			continue
		}
		if got != v.h {
			t.Errorf("vector %d: Decode = %+v, want %+v", i, got, v.h)
		}
		if !bytes.Equal(body, v.body) || &body[0] != &pkt[HeaderLen] {
			t.Errorf("vector %d: body is not pkt[HeaderLen:]", i)
		}
	}
}

func TestEncodeWritesOnlyHeader(t *testing.T) {
	buf := bytes.Repeat([]byte{0xEE}, HeaderLen+4)
	h := goldenHeaders[0].h
	if err := h.Encode(buf); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if !bytes.Equal(buf[HeaderLen:], []byte{0xEE, 0xEE, 0xEE, 0xEE}) {
		t.Errorf("Encode wrote past HeaderLen: % X", buf[HeaderLen:])
	}
}

func TestRoundTrip(t *testing.T) {
	hosts := []netip.Addr{vipVM0, netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255")}
	cases := []Header{}
	for state := uint8(0); state <= MaxState; state++ {
		for _, id := range []uint16{0, 1, 0x0AAA, 0x1555, 4095, 4096, IDSpace - 1} {
			for kind := Kind(0); kind < numKinds; kind++ {
				for _, host := range hosts {
					cases = append(cases, Header{
						State: state, Forward: kind == KindData, ID: id, Kind: kind,
						Host: host, SrcIndex: uint32(id) * 7, DstIndex: ^uint32(id),
					})
				}
			}
		}
	}
	buf := make([]byte, HeaderLen+ProbeLen)
	both := make([]byte, HeaderLen+2*ProbeLen)
	data := join(make([]byte, HeaderLen), ipv4Packet(40))
	for i, want := range cases {
		pkt := buf
		switch want.Kind {
		case KindData:
			pkt = data
		case KindReplyProbe:
			pkt = both
		case KindNICInfo:
			pkt = buf[:HeaderLen+NICInfoLen]
		}
		if err := want.Encode(pkt); err != nil {
			t.Fatalf("case %d: Encode(%+v): %v", i, want, err)
		}
		var got Header
		if _, err := Decode(pkt, &got); err != nil {
			t.Fatalf("case %d: Decode(% X): %v", i, pkt[:HeaderLen], err)
		}
		if got != want {
			t.Fatalf("case %d: round trip = %+v, want %+v", i, got, want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := goldenHeaders[0].h
	with := func(f func(*Header)) Header { h := ok; f(&h); return h }
	cases := []struct {
		h      Header
		bufLen int
		want   Error
	}{
		0:  {ok, HeaderLen - 1, ErrShort},
		1:  {ok, 0, ErrShort},
		2:  {with(func(h *Header) { h.State = 3 }), HeaderLen, ErrState},
		3:  {with(func(h *Header) { h.State = 255 }), HeaderLen, ErrState},
		4:  {with(func(h *Header) { h.ID = IDSpace }), HeaderLen, ErrID},
		5:  {with(func(h *Header) { h.ID = 0xFFFF }), HeaderLen, ErrID},
		6:  {with(func(h *Header) { h.Kind, h.Forward = 5, false }), HeaderLen, ErrKind},
		7:  {with(func(h *Header) { h.Kind, h.Forward = 15, false }), HeaderLen, ErrKind},
		8:  {with(func(h *Header) { h.Kind, h.Forward = 16, false }), HeaderLen, ErrKind},
		9:  {with(func(h *Header) { h.Kind, h.Forward = 255, false }), HeaderLen, ErrKind},
		10: {with(func(h *Header) { h.Forward = false }), HeaderLen, ErrFlags},
		11: {with(func(h *Header) { h.Kind = KindProbe }), HeaderLen, ErrFlags},
		12: {with(func(h *Header) { h.Host = netip.Addr{} }), HeaderLen, ErrHost},
		13: {with(func(h *Header) { h.Host = netip.MustParseAddr("2001:db8::1") }), HeaderLen, ErrHost},
		14: {with(func(h *Header) { h.Host = netip.MustParseAddr("::ffff:198.19.0.2") }), HeaderLen, ErrHost},
	}
	for i, c := range cases {
		buf := bytes.Repeat([]byte{0xEE}, c.bufLen)
		err := c.h.Encode(buf)
		if err != c.want {
			t.Errorf("case %d: Encode = %v, want %v", i, err, c.want)
		}
		if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, c.bufLen)) {
			t.Errorf("case %d: Encode wrote into the buffer on error", i)
		}
	}
}

// decodeErrorCases are malformed packets, one group per reason, plus cases
// pinning the order of the checks when a packet has several faults.
var decodeErrorCases = []struct {
	pkt  string // header hex
	body []byte
	want Error
}{
	// ErrShort: anything under 16 bytes, however good its start.
	0: {"", nil, ErrShort},
	1: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00", nil, ErrShort},
	2: {"BA BC 00", nil, ErrShort}, // short beats bad magic
	// ErrMagic: an IPv4 header or any other foreign packet.
	3: {"45 00 00 54 00 00 40 00 40 01 00 00 C6 12 00 02", nil, ErrMagic},
	4: {"BA BC B6 10 C6 13 00 02 00 00 00 03 00 00 00 07", ipv4Packet(20), ErrMagic},
	5: {"FF FF 00 FF C6 13 00 02 00 00 00 03 00 00 00 07", nil, ErrMagic}, // magic beats version
	// ErrVersion: 0 and 2..15.
	6: {"BA BC B7 00 C6 13 00 02 00 00 00 03 00 00 00 07", ipv4Packet(20), ErrVersion},
	7: {"BA BC B7 20 C6 13 00 02 00 00 00 03 00 00 00 07", ipv4Packet(20), ErrVersion},
	8: {"FA BC B7 F3 C6 13 00 02 00 00 00 03 00 00 00 07", nil, ErrVersion}, // version beats kind, state
	// ErrKind: reserved 5..15.
	9:  {"00 00 B7 15 C6 13 00 02 00 00 00 03 00 00 00 07", make([]byte, ProbeLen), ErrKind},
	10: {"00 00 B7 1F C6 13 00 02 00 00 00 03 00 00 00 07", make([]byte, ProbeLen), ErrKind},
	11: {"FA BC B7 1F C6 13 00 02 00 00 00 03 00 00 00 07", nil, ErrKind}, // kind beats state
	// ErrState: St = 3.
	12: {"FA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", ipv4Packet(20), ErrState},
	13: {"C0 00 B7 11 C6 13 00 02 00 00 00 03 00 00 00 07", nil, ErrState}, // state beats flags, length
	// ErrFlags: data without F, control with F.
	14: {"9A BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", ipv4Packet(20), ErrFlags},
	15: {"20 00 B7 11 C6 13 00 02 00 00 00 03 00 00 00 07", make([]byte, ProbeLen), ErrFlags},
	16: {"A0 00 B7 12 C6 13 00 02 00 00 00 03 00 00 00 07", nil, ErrFlags}, // flags beat length
	// ErrLength, data: the body must be exactly one IPv4 packet.
	17: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", nil, ErrLength},
	18: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", ipv4Packet(20)[:19], ErrLength},
	19: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", mustHex("65 00 00 14" + zeros(16)), ErrLength}, // IPv6 nibble
	20: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", mustHex("44 00 00 14" + zeros(16)), ErrLength}, // IHL 4
	21: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", mustHex("4F 00 00 28" + zeros(36)), ErrLength}, // IHL 60 > total 40
	22: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", mustHex("46 00 00 14" + zeros(20)), ErrLength}, // IHL 24 > total 20
	23: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", ipv4Packet(40)[:39], ErrLength},                // truncated
	24: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", append(ipv4Packet(20), 0), ErrLength},          // padded
	25: {"BA BC B7 10 C6 13 00 02 00 00 00 03 00 00 00 07", mustHex("45 00 00 00" + zeros(16)), ErrLength}, // total 0
	// ErrLength, probe and reply: exactly ProbeLen.
	26: {"00 00 B7 11 C6 13 00 01 00 00 00 02 00 00 00 00", nil, ErrLength},
	27: {"00 00 B7 11 C6 13 00 01 00 00 00 02 00 00 00 00", make([]byte, ProbeLen-1), ErrLength},
	28: {"5F FF B7 12 C6 13 00 03 DE AD BE EF 00 00 00 01", make([]byte, ProbeLen+1), ErrLength},
	29: {"5F FF B7 12 C6 13 00 03 DE AD BE EF 00 00 00 01", ipv4Packet(20), ErrLength},
}

func TestDecodeErrors(t *testing.T) {
	for i, c := range decodeErrorCases {
		pkt := join(mustHex(c.pkt), c.body)
		sentinel := Header{ID: 77}
		h := sentinel
		body, err := Decode(pkt, &h)
		if err != c.want {
			t.Errorf("case %d: Decode = %v, want %v", i, err, c.want)
		}
		var we Error
		if !errors.As(err, &we) || we != c.want {
			t.Errorf("case %d: errors.As gives %v, want %v", i, we, c.want)
		}
		if body != nil {
			t.Errorf("case %d: body = % X on error, want nil", i, body)
		}
		if h != sentinel {
			t.Errorf("case %d: Decode changed h on error: %+v", i, h)
		}
	}
}

// TestDecodeErrorsCoverEveryDecodeReason fails when a reason Decode can
// return has no case above.
func TestDecodeErrorsCoverEveryDecodeReason(t *testing.T) {
	seen := map[Error]bool{}
	for _, c := range decodeErrorCases {
		seen[c.want] = true
	}
	for _, e := range []Error{ErrShort, ErrMagic, ErrVersion, ErrKind, ErrState, ErrFlags, ErrLength} {
		if !seen[e] {
			t.Errorf("no Decode case for %v", e)
		}
	}
}

func TestNextID(t *testing.T) {
	cases := []struct{ in, want uint16 }{
		0: {0, 1},
		1: {4095, 4096},
		2: {IDSpace - 2, IDSpace - 1},
		3: {IDSpace - 1, 0},
	}
	for i, c := range cases {
		if got := NextID(c.in); got != c.want {
			t.Errorf("case %d: NextID(%d) = %d, want %d", i, c.in, got, c.want)
		}
	}
}
