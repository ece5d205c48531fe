package router

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
)

// buildIPv4 returns an IPv4 packet with a valid header checksum: ttl, proto,
// src and dst as given, options (a multiple of 4 bytes) after the fixed
// header, then payload.
func buildIPv4(src, dst string, proto, ttl uint8, options, payload []byte) []byte {
	hl := ipv4MinHeaderLen + len(options)
	pkt := make([]byte, hl+len(payload))
	pkt[0] = 0x40 | uint8(hl/4)
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	binary.BigEndian.PutUint16(pkt[4:], 0x1234)
	pkt[8], pkt[9] = ttl, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(pkt[12:], s[:])
	copy(pkt[16:], d[:])
	copy(pkt[ipv4MinHeaderLen:], options)
	copy(pkt[hl:], payload)
	binary.BigEndian.PutUint16(pkt[10:], Checksum(pkt[:hl]))
	return pkt
}

// icmpMessage returns an ICMP message of the given type and code with a
// valid checksum; rest is everything after the checksum field.
func icmpMessage(typ, code uint8, rest []byte) []byte {
	m := append([]byte{typ, code, 0, 0}, rest...)
	binary.BigEndian.PutUint16(m[2:], Checksum(m))
	return m
}

// echoRequest returns an ICMP echo request from src to dst with the given
// identifier, sequence number and payload size.
func echoRequest(src, dst string, id, seq uint16, size int) []byte {
	rest := make([]byte, 4+size)
	binary.BigEndian.PutUint16(rest[0:], id)
	binary.BigEndian.PutUint16(rest[2:], seq)
	for i := range size {
		rest[4+i] = byte(i)
	}
	return buildIPv4(src, dst, ProtocolICMP, 64, nil, icmpMessage(8, 0, rest))
}

func TestParseIPv4(t *testing.T) {
	valid := buildIPv4("198.19.70.2", "198.19.70.1", ProtocolUDP, 64, nil, make([]byte, 8))
	withOptions := buildIPv4("198.19.70.2", "198.19.70.1", ProtocolTCP, 3, []byte{1, 1, 1, 0}, make([]byte, 12))
	fragment := bytes.Clone(valid)
	binary.BigEndian.PutUint16(fragment[6:], 0x2000|185) // MF, offset 185*8
	mutate := func(f func(p []byte)) []byte { p := bytes.Clone(valid); f(p); return p }

	tests := []struct {
		name string
		pkt  []byte
		ok   bool
		want IPv4Info
	}{
		{"1 minimal UDP", valid, true, IPv4Info{
			Src: netip.MustParseAddr("198.19.70.2"), Dst: netip.MustParseAddr("198.19.70.1"),
			TTL: 64, Protocol: ProtocolUDP, HeaderLen: 20, TotalLen: 28}},
		{"2 options", withOptions, true, IPv4Info{
			Src: netip.MustParseAddr("198.19.70.2"), Dst: netip.MustParseAddr("198.19.70.1"),
			TTL: 3, Protocol: ProtocolTCP, HeaderLen: 24, TotalLen: 36}},
		{"3 fragment fields", fragment, true, IPv4Info{
			Src: netip.MustParseAddr("198.19.70.2"), Dst: netip.MustParseAddr("198.19.70.1"),
			TTL: 64, Protocol: ProtocolUDP, HeaderLen: 20, TotalLen: 28, FragmentOffset: 1480, MoreFragments: true}},
		{"4 trailing bytes beyond TotalLen", append(bytes.Clone(valid), 0, 0, 0), true, IPv4Info{
			Src: netip.MustParseAddr("198.19.70.2"), Dst: netip.MustParseAddr("198.19.70.1"),
			TTL: 64, Protocol: ProtocolUDP, HeaderLen: 20, TotalLen: 28}},
		{"5 nil", nil, false, IPv4Info{}},
		{"6 19 bytes", valid[:19], false, IPv4Info{}},
		{"7 version 6", mutate(func(p []byte) { p[0] = 0x65 }), false, IPv4Info{}},
		{"8 IHL 4", mutate(func(p []byte) { p[0] = 0x44 }), false, IPv4Info{}},
		{"9 IHL beyond TotalLen", mutate(func(p []byte) { p[0] = 0x48 }), false, IPv4Info{}},
		{"10 TotalLen beyond the slice", mutate(func(p []byte) { p[3] = 29 }), false, IPv4Info{}},
		{"11 TotalLen below header", mutate(func(p []byte) { p[3] = 19 }), false, IPv4Info{}},
		{"12 truncated slice", valid[:27], false, IPv4Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseIPv4(tt.pkt)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseIPv4 = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint16
	}{
		// RFC 1071 section 3: the sum of these words is 0xddf2.
		{"1 RFC 1071 example", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, ^uint16(0xddf2)},
		{"2 odd length pads with zero", []byte{0x00, 0x01, 0xf2}, ^uint16(0xf201)},
		{"3 empty", nil, 0xffff},
		{"4 end-around carry", []byte{0xff, 0xff, 0x00, 0x01}, ^uint16(0x0001)},
		// A captured header with checksum 0xb861 in place sums to 0.
		{"5 valid header", []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}, 0},
		{"6 same header, checksum zeroed", []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}, 0xb861},
	}
	for _, tt := range tests {
		if got := Checksum(tt.in); got != tt.want {
			t.Errorf("%s: Checksum = %#04x, want %#04x", tt.name, got, tt.want)
		}
	}
}

// TestChecksumMatchesWordSum checks the 8-byte fast path against a plain
// 16-bit word sum over random lengths.
func TestChecksumMatchesWordSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(1500))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		var sum uint32
		for i := 0; i < len(b); i += 2 {
			w := uint32(b[i]) << 8
			if i+1 < len(b) {
				w |= uint32(b[i+1])
			}
			sum += w
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		if got, want := Checksum(b), ^uint16(sum); got != want {
			t.Fatalf("len %d: Checksum = %#04x, want %#04x", len(b), got, want)
		}
	}
}

func TestDecrementTTL(t *testing.T) {
	tests := []struct {
		name    string
		ttl     uint8
		ok      bool
		wantTTL uint8
	}{
		{"1 ttl 64", 64, true, 63},
		{"2 ttl 2", 2, true, 1},
		{"3 ttl 255", 255, true, 254},
		{"4 ttl 1 must be dropped", 1, false, 1},
		{"5 ttl 0 must be dropped", 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, tt.ttl, nil, []byte("payload!"))
			before := bytes.Clone(pkt)
			if ok := DecrementTTL(pkt); ok != tt.ok {
				t.Fatalf("DecrementTTL = %v, want %v", ok, tt.ok)
			}
			if pkt[8] != tt.wantTTL {
				t.Errorf("TTL = %d, want %d", pkt[8], tt.wantTTL)
			}
			if !tt.ok && !bytes.Equal(pkt, before) {
				t.Errorf("refused packet was changed:\n got % x\nwant % x", pkt, before)
			}
			if Checksum(pkt[:20]) != 0 {
				t.Errorf("header checksum invalid after DecrementTTL: % x", pkt[:20])
			}
		})
	}
	for _, bad := range [][]byte{nil, make([]byte, 19), {0x65, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		before := bytes.Clone(bad)
		if DecrementTTL(bad) || !bytes.Equal(bad, before) {
			t.Errorf("DecrementTTL(% x) accepted or changed a non-IPv4 header", before)
		}
	}
}

// TestDecrementTTLMatchesRecomputation is the property RFC 1624 promises:
// the incremental update equals a full recomputation, for any header.
func TestDecrementTTLMatchesRecomputation(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hdr := make([]byte, ipv4MaxHeaderLen)
	for i := range 200_000 {
		hl := ipv4MinHeaderLen + 4*rng.IntN(11)
		h := hdr[:hl]
		for j := range h {
			h[j] = byte(rng.Uint32())
		}
		h[0] = 0x40 | uint8(hl/4)
		h[8] = 2 + uint8(rng.IntN(254))
		if i%7 == 0 {
			h[8] = 2 // the smallest TTL that may be forwarded
		}
		h[10], h[11] = 0, 0
		binary.BigEndian.PutUint16(h[10:], Checksum(h))
		if !DecrementTTL(h) {
			t.Fatalf("DecrementTTL refused TTL %d", h[8])
		}
		got := binary.BigEndian.Uint16(h[10:])
		h[10], h[11] = 0, 0
		if want := Checksum(h); got != want {
			t.Fatalf("header % x: incremental checksum %#04x, recomputed %#04x", h, got, want)
		}
	}
}

// TestDecrementTTLEveryChecksum walks the ID field through all 65536 values,
// so the stored checksum takes every value, carries included, which random
// headers reach only by luck.
func TestDecrementTTLEveryChecksum(t *testing.T) {
	h := buildIPv4("198.19.70.2", "198.19.71.9", 0, 64, nil, nil)
	for _, ttl := range []uint8{2, 3, 64, 128, 255} {
		for _, proto := range []uint8{0, ProtocolUDP, 255} {
			for id := range 1 << 16 {
				h[8], h[9] = ttl, proto
				binary.BigEndian.PutUint16(h[4:], uint16(id))
				h[10], h[11] = 0, 0
				binary.BigEndian.PutUint16(h[10:], Checksum(h))
				DecrementTTL(h)
				got := binary.BigEndian.Uint16(h[10:])
				h[10], h[11] = 0, 0
				if want := Checksum(h); got != want {
					t.Fatalf("TTL %d proto %d ID %#04x: incremental checksum %#04x, recomputed %#04x", ttl, proto, id, got, want)
				}
			}
		}
	}
}

func TestICMPErrors(t *testing.T) {
	router := netip.MustParseAddr("198.19.70.1")
	udp := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, 1, nil, []byte("0123456789abcdef"))
	withOptions := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, 1, []byte{1, 1, 1, 0, 1, 1, 1, 0}, []byte("0123456789abcdef"))
	tiny := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, 1, nil, []byte("abc"))
	echo := echoRequest("198.19.70.2", "198.19.71.9", 7, 1, 32)

	tests := []struct {
		name      string
		build     func(buf, orig []byte) (int, error)
		orig      []byte
		typ, code uint8
		mtu       uint16
		quoteLen  int
	}{
		{"1 host unreachable quotes header + 8",
			func(b, o []byte) (int, error) { return ICMPUnreachable(b, o, router, ICMPCodeHostUnreachable) },
			udp, 3, 1, 0, 28},
		{"2 options are quoted too",
			func(b, o []byte) (int, error) { return ICMPUnreachable(b, o, router, ICMPCodeNetUnreachable) },
			withOptions, 3, 0, 0, 36},
		{"3 payload shorter than 8 bytes",
			func(b, o []byte) (int, error) { return ICMPUnreachable(b, o, router, ICMPCodePortUnreachable) },
			tiny, 3, 3, 0, 23},
		{"4 time exceeded",
			func(b, o []byte) (int, error) { return ICMPTimeExceeded(b, o, router) },
			udp, 11, 0, 0, 28},
		{"5 fragmentation needed carries the MTU",
			func(b, o []byte) (int, error) { return ICMPFragmentationNeeded(b, o, router, 1464) },
			udp, 3, 4, 1464, 28},
		{"6 an echo request may be answered",
			func(b, o []byte) (int, error) { return ICMPUnreachable(b, o, router, ICMPCodeHostUnreachable) },
			echo, 3, 1, 0, 28},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := bytes.Repeat([]byte{0xee}, ICMPErrorMaxLen+10)
			n, err := tt.build(buf, tt.orig)
			if err != nil {
				t.Fatal(err)
			}
			if want := 20 + 8 + tt.quoteLen; n != want {
				t.Fatalf("length %d, want %d", n, want)
			}
			msg := buf[:n]
			h, ok := ParseIPv4(msg)
			if !ok || h.TotalLen != n || h.HeaderLen != 20 {
				t.Fatalf("reply header not well-formed: %+v ok=%v", h, ok)
			}
			if h.Src != router || h.Dst != netip.MustParseAddr("198.19.70.2") || h.Protocol != ProtocolICMP || h.TTL == 0 {
				t.Errorf("reply header %+v: want ICMP from %s to 198.19.70.2", h, router)
			}
			if Checksum(msg[:20]) != 0 {
				t.Errorf("IP checksum invalid: % x", msg[:20])
			}
			icmp := msg[20:]
			if Checksum(icmp) != 0 {
				t.Errorf("ICMP checksum invalid: % x", icmp)
			}
			if icmp[0] != tt.typ || icmp[1] != tt.code {
				t.Errorf("type/code %d/%d, want %d/%d", icmp[0], icmp[1], tt.typ, tt.code)
			}
			if got := binary.BigEndian.Uint16(icmp[6:]); got != tt.mtu || icmp[4] != 0 || icmp[5] != 0 {
				t.Errorf("unused/MTU field % x, want MTU %d", icmp[4:8], tt.mtu)
			}
			if !bytes.Equal(icmp[8:], tt.orig[:tt.quoteLen]) {
				t.Errorf("quote % x, want % x", icmp[8:], tt.orig[:tt.quoteLen])
			}
			if buf[n] != 0xee {
				t.Errorf("wrote beyond the returned length")
			}
		})
	}
}

func TestICMPErrorsRefused(t *testing.T) {
	router := netip.MustParseAddr("198.19.70.1")
	udp := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, 1, nil, []byte("0123456789abcdef"))
	unreach := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolICMP, 1, nil, icmpMessage(3, 1, make([]byte, 32)))
	timeExceeded := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolICMP, 1, nil, icmpMessage(11, 0, make([]byte, 32)))
	unknownICMP := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolICMP, 1, nil, icmpMessage(42, 0, make([]byte, 4)))
	emptyICMP := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolICMP, 1, nil, nil)
	fragment := bytes.Clone(udp)
	binary.BigEndian.PutUint16(fragment[6:], 3) // offset 24 bytes
	multicast := buildIPv4("198.19.70.2", "239.1.2.3", ProtocolUDP, 1, nil, []byte("01234567"))
	broadcast := buildIPv4("198.19.70.2", "255.255.255.255", ProtocolUDP, 1, nil, []byte("01234567"))
	fromNowhere := buildIPv4("0.0.0.0", "198.19.71.9", ProtocolUDP, 1, nil, []byte("01234567"))
	fromLoopback := buildIPv4("127.0.0.1", "198.19.71.9", ProtocolUDP, 1, nil, []byte("01234567"))

	notAllowed := []struct {
		name string
		orig []byte
	}{
		{"1 ICMP unreachable", unreach},
		{"2 ICMP time exceeded", timeExceeded},
		{"3 unknown ICMP type", unknownICMP},
		{"4 ICMP without a type", emptyICMP},
		{"5 non-initial fragment", fragment},
		{"6 multicast destination", multicast},
		{"7 broadcast destination", broadcast},
		{"8 unspecified source", fromNowhere},
		{"9 loopback source", fromLoopback},
	}
	buf := make([]byte, ICMPErrorMaxLen)
	for _, tt := range notAllowed {
		for _, build := range []func() (int, error){
			func() (int, error) { return ICMPUnreachable(buf, tt.orig, router, ICMPCodeHostUnreachable) },
			func() (int, error) { return ICMPTimeExceeded(buf, tt.orig, router) },
		} {
			if n, err := build(); !errors.Is(err, ErrICMPNotAllowed) || n != 0 {
				t.Errorf("%s: got n=%d err=%v, want ErrICMPNotAllowed", tt.name, n, err)
			}
		}
	}

	misuse := []struct {
		name string
		n    func() (int, error)
	}{
		{"10 malformed original", func() (int, error) { return ICMPUnreachable(buf, udp[:25], router, 1) }},
		{"11 IPv6 source", func() (int, error) { return ICMPUnreachable(buf, udp, netip.MustParseAddr("2001:db8::1"), 1) }},
		{"12 zero source", func() (int, error) { return ICMPUnreachable(buf, udp, netip.Addr{}, 1) }},
		{"13 short buffer", func() (int, error) { return ICMPUnreachable(buf[:55], udp, router, 1) }},
		{"14 MTU too small", func() (int, error) { return ICMPFragmentationNeeded(buf, udp, router, 67) }},
	}
	for _, tt := range misuse {
		if n, err := tt.n(); err == nil || errors.Is(err, ErrICMPNotAllowed) || n != 0 {
			t.Errorf("%s: got n=%d err=%v, want a usage error", tt.name, n, err)
		}
	}
}

// TestIPv4HelpersNeverPanic feeds random and mutated packets to every helper.
func TestIPv4HelpersNeverPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	seed := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolICMP, 2, []byte{1, 1, 1, 0}, icmpMessage(8, 0, make([]byte, 12)))
	buf := make([]byte, ICMPErrorMaxLen)
	for i := range 100_000 {
		var pkt []byte
		if i%2 == 0 {
			pkt = make([]byte, rng.IntN(80))
			for j := range pkt {
				pkt[j] = byte(rng.Uint32())
			}
			if len(pkt) > 0 && i%4 == 0 {
				pkt[0] = 0x40 | pkt[0]&0x0f // mostly version 4, to reach deeper checks
			}
		} else {
			pkt = bytes.Clone(seed[:rng.IntN(len(seed)+1)])
			for range 1 + rng.IntN(3) {
				if len(pkt) > 0 {
					pkt[rng.IntN(len(pkt))] = byte(rng.Uint32())
				}
			}
		}
		exerciseIPv4Helpers(t, pkt, buf[:rng.IntN(len(buf)+1)])
	}
}

// FuzzIPv4Helpers lets `go test -fuzz FuzzIPv4Helpers` search for a panic
// or a malformed ICMP error; plain `go test` runs the seeds.
func FuzzIPv4Helpers(f *testing.F) {
	f.Add(buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, 2, nil, []byte("0123456789")))
	f.Add(echoRequest("198.19.70.2", "198.19.71.9", 1, 1, 0))
	f.Add([]byte{0x4f, 0, 0, 20})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		exerciseIPv4Helpers(t, pkt, make([]byte, ICMPErrorMaxLen))
	})
}

// exerciseIPv4Helpers runs every helper on pkt and checks what they promise
// for any input.
func exerciseIPv4Helpers(t *testing.T, pkt, buf []byte) {
	t.Helper()
	h, ok := ParseIPv4(pkt)
	if ok && (h.HeaderLen < 20 || h.HeaderLen > h.TotalLen || h.TotalLen > len(pkt)) {
		t.Fatalf("ParseIPv4(% x) accepted inconsistent lengths %+v", pkt, h)
	}
	Checksum(pkt)
	for _, build := range []func() (int, error){
		func() (int, error) { return ICMPUnreachable(buf, pkt, netip.MustParseAddr("198.19.70.1"), 1) },
		func() (int, error) { return ICMPTimeExceeded(buf, pkt, netip.MustParseAddr("198.19.70.1")) },
	} {
		n, err := build()
		if err != nil {
			continue
		}
		if !ok {
			t.Fatalf("ICMP error built for a packet ParseIPv4 rejects: % x", pkt)
		}
		if n > len(buf) || n > ICMPErrorMaxLen || Checksum(buf[:20]) != 0 || Checksum(buf[20:n]) != 0 {
			t.Fatalf("bad ICMP error for % x: % x", pkt, buf[:min(n, len(buf))])
		}
	}
	before := bytes.Clone(pkt)
	if DecrementTTL(pkt) {
		if len(pkt) < 20 || pkt[8] != before[8]-1 {
			t.Fatalf("DecrementTTL(% x) = % x", before, pkt)
		}
	} else if !bytes.Equal(pkt, before) {
		t.Fatalf("DecrementTTL refused but changed % x to % x", before, pkt)
	}
}

func TestIPv4HelpersDoNotAllocate(t *testing.T) {
	pkt := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, 200, nil, make([]byte, 180))
	icmpErr := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolICMP, 200, nil, icmpMessage(3, 1, make([]byte, 32)))
	router := netip.MustParseAddr("198.19.70.1")
	buf := make([]byte, ICMPErrorMaxLen)
	for name, fn := range map[string]func(){
		"ParseIPv4":       func() { ParseIPv4(pkt) },
		"Checksum":        func() { Checksum(pkt) },
		"DecrementTTL":    func() { pkt[8] = 64; DecrementTTL(pkt) },
		"ICMPUnreachable": func() { _, _ = ICMPUnreachable(buf, pkt, router, 1) },
		"refusal":         func() { _, _ = ICMPTimeExceeded(buf, icmpErr, router) },
	} {
		if a := testing.AllocsPerRun(100, fn); a != 0 {
			t.Errorf("%s allocates %.1f times per call, want 0", name, a)
		}
	}
}

func BenchmarkChecksum(b *testing.B) {
	for _, size := range []int{20, 200, 1464} {
		data := make([]byte, size)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				Checksum(data)
			}
		})
	}
}

func BenchmarkDecrementTTL(b *testing.B) {
	pkt := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, 255, nil, make([]byte, 180))
	for b.Loop() {
		if !DecrementTTL(pkt) {
			pkt[8] = 255
		}
	}
}

func BenchmarkParseIPv4(b *testing.B) {
	pkt := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, 64, nil, make([]byte, 180))
	for b.Loop() {
		ParseIPv4(pkt)
	}
}

func BenchmarkICMPUnreachable(b *testing.B) {
	pkt := buildIPv4("198.19.70.2", "198.19.71.9", ProtocolUDP, 64, nil, make([]byte, 180))
	buf := make([]byte, ICMPErrorMaxLen)
	router := netip.MustParseAddr("198.19.70.1")
	for b.Loop() {
		_, _ = ICMPUnreachable(buf, pkt, router, ICMPCodeHostUnreachable)
	}
}
