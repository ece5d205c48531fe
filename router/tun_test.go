package router

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// Addresses from the block reserved for these tests.
const (
	testTUNName = "pl-tun0"
	testTUNAddr = "198.19.70.1"
	testPeer    = "198.19.70.2"
	testMTU     = 1464
)

var testPrefix = netip.MustParsePrefix(testTUNAddr + "/24")

// ioTimeout bounds every wait on the kernel, so a broken TUN fails a test
// instead of hanging it.
const ioTimeout = 5 * time.Second

func TestFakeTUNInjectRead(t *testing.T) {
	f := NewFakeTUN("fake0", 7, testMTU)
	defer f.Close()
	if f.Name() != "fake0" || f.Index() != 7 || f.MTU() != testMTU {
		t.Fatalf("Name/Index/MTU = %s/%d/%d, want fake0/7/%d", f.Name(), f.Index(), f.MTU(), testMTU)
	}
	pkt := echoRequest(testPeer, testTUNAddr, 1, 1, 100)
	want := bytes.Clone(pkt)
	if !f.Inject(pkt) {
		t.Fatal("Inject refused a packet into an empty queue")
	}
	pkt[0] = 0 // Inject must have copied
	buf := make([]byte, testMTU)
	n, err := f.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], want) {
		t.Fatalf("Read = % x, %v; want % x", buf[:n], err, want)
	}

	f.Inject(want)
	small := make([]byte, 20)
	if n, err := f.Read(small); n != 20 || !errors.Is(err, ErrPacketTruncated) {
		t.Errorf("Read into 20 bytes = %d, %v; want 20, ErrPacketTruncated", n, err)
	}
}

func TestFakeTUNWriteWritten(t *testing.T) {
	f := NewFakeTUN("fake0", 7, testMTU)
	pkt := echoRequest(testTUNAddr, testPeer, 1, 1, 100)
	want := bytes.Clone(pkt)
	if n, err := f.Write(pkt); n != len(pkt) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	pkt[0] = 0 // Write must have copied
	for _, bad := range [][]byte{nil, {0x50, 1, 2, 3}} {
		if _, err := f.Write(bad); !errors.Is(err, unix.EINVAL) {
			t.Errorf("Write(% x) = %v, want EINVAL like the kernel", bad, err)
		}
	}
	select {
	case got := <-f.Written():
		if !bytes.Equal(got, want) {
			t.Errorf("Written yielded % x, want % x", got, want)
		}
	default:
		t.Fatal("Written yielded nothing after a Write")
	}
	select {
	case got := <-f.Written():
		t.Errorf("Written yielded a rejected packet % x", got)
	default:
	}
}

func TestFakeTUNQueuesAreBounded(t *testing.T) {
	f := NewFakeTUN("fake0", 7, testMTU)
	defer f.Close()
	pkt := echoRequest(testPeer, testTUNAddr, 1, 1, 10)
	const extra = 5
	for range FakeTUNQueueLen + extra {
		f.Inject(pkt)
		if _, err := f.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	if in, out := f.Drops(); in != extra || out != extra {
		t.Errorf("Drops = %d, %d; want %d, %d", in, out, extra, extra)
	}
}

func TestFakeTUNCloseUnblocksRead(t *testing.T) {
	f := NewFakeTUN("fake0", 7, testMTU)
	f.Write(echoRequest(testTUNAddr, testPeer, 1, 1, 10))
	testCloseUnblocksRead(t, f)
	if f.Inject(echoRequest(testPeer, testTUNAddr, 1, 1, 10)) {
		t.Error("Inject after Close accepted a packet")
	}
	// Packets written before Close stay readable, then Written is closed.
	if _, ok := <-f.Written(); !ok {
		t.Error("Written lost a packet written before Close")
	}
	if _, ok := <-f.Written(); ok {
		t.Error("Written is still open after Close")
	}
}

// testCloseUnblocksRead checks the Close contract every Device keeps.
func testCloseUnblocksRead(t *testing.T, d Device) {
	t.Helper()
	readErr := make(chan error, 1)
	go func() {
		_, err := d.Read(make([]byte, testMTU))
		readErr <- err
	}()
	// Give the Read time to block; if it has not, it must still return
	// net.ErrClosed, so the assertion holds either way.
	time.Sleep(50 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked Read returned %v, want net.ErrClosed", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Close did not unblock Read")
	}
	if _, err := d.Read(make([]byte, testMTU)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
	if _, err := d.Write(echoRequest(testPeer, testTUNAddr, 1, 1, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestTUNConfigValidation(t *testing.T) {
	good := TUNConfig{Name: testTUNName, Prefix: testPrefix, MTU: testMTU}
	tests := []struct {
		name    string
		edit    func(c *TUNConfig)
		wantMsg string
	}{
		{"1 empty name", func(c *TUNConfig) { c.Name = "" }, "name is empty"},
		{"2 name of 16 bytes", func(c *TUNConfig) { c.Name = "polylink-too-lon" }, "at most 15"},
		{"3 name with a slash", func(c *TUNConfig) { c.Name = "pl/0" }, "not a valid interface name"},
		{"4 no prefix", func(c *TUNConfig) { c.Prefix = netip.Prefix{} }, "prefix is missing"},
		{"5 IPv6 prefix", func(c *TUNConfig) { c.Prefix = netip.MustParsePrefix("2001:db8::1/64") }, "not IPv4"},
		{"6 IPv4-mapped IPv6 prefix", func(c *TUNConfig) { c.Prefix = netip.MustParsePrefix("::ffff:198.19.70.1/120") }, "not IPv4"},
		{"7 prefix wider than /8", func(c *TUNConfig) { c.Prefix = netip.MustParsePrefix("198.19.70.1/4") }, "wider than /8"},
		{"8 multicast address", func(c *TUNConfig) { c.Prefix = netip.MustParsePrefix("239.1.1.1/24") }, "not a unicast host"},
		{"9 MTU 575", func(c *TUNConfig) { c.MTU = 575 }, "outside 576..65535"},
		{"10 MTU 65536", func(c *TUNConfig) { c.MTU = 65536 }, "outside 576..65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			tun, err := OpenTUN(cfg)
			if err == nil {
				tun.Close()
				t.Fatalf("OpenTUN(%+v) succeeded", cfg)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, tt.wantMsg)
			}
		})
	}
	if err := good.validate(); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
}

// openTUNIn opens a TUN inside ns and closes it when the test ends (before
// the namespace is deleted: cleanups run last-registered first).
func openTUNIn(t testing.TB, ns *testbed.Namespace, cfg TUNConfig) *TUN {
	t.Helper()
	var tun *TUN
	if err := ns.Do(func() (err error) {
		tun, err = OpenTUN(cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.Close() })
	if err := tun.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	return tun
}

// netlinkIn returns a netlink handle working inside ns.
func netlinkIn(t testing.TB, ns *testbed.Namespace) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns.Handle())
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", ns.Name, err)
	}
	t.Cleanup(h.Close)
	return h
}

func testConfig() TUNConfig {
	return TUNConfig{Name: testTUNName, Prefix: testPrefix, MTU: testMTU}
}

func TestTUNKernelView(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	nl := netlinkIn(t, ns)
	tun := openTUNIn(t, ns, testConfig())

	link, err := nl.LinkByName(testTUNName)
	if err != nil {
		t.Fatalf("TUN not visible to netlink: %v", err)
	}
	a := link.Attrs()
	if link.Type() != "tuntap" || a.Index != tun.Index() || a.MTU != testMTU || a.Flags&net.FlagUp == 0 || a.TxQLen < minTxQueueLen {
		t.Errorf("link %s type %s index %d mtu %d flags %v txqlen %d; want tuntap, index %d, mtu %d, up, txqlen ≥ %d",
			a.Name, link.Type(), a.Index, a.MTU, a.Flags, a.TxQLen, tun.Index(), testMTU, minTxQueueLen)
	}
	if tun.Name() != testTUNName || tun.MTU() != testMTU {
		t.Errorf("Name/MTU = %s/%d", tun.Name(), tun.MTU())
	}
	addrs, err := nl.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != testPrefix.String() {
		t.Errorf("addresses %v, want only %s (IPv6 must be off)", addrs, testPrefix)
	}
	out, err := ns.Run("cat", "/proc/sys/net/ipv6/conf/"+testTUNName+"/disable_ipv6")
	if err == nil && strings.TrimSpace(out) != "1" || !tun.IPv6Disabled() {
		t.Errorf("disable_ipv6 = %q (%v), IPv6Disabled = %v; want 1, true", out, err, tun.IPv6Disabled())
	}
}

// TestTUNEchoRoundTrip writes echo requests into the TUN and reads the
// kernel's replies: each Read is exactly one whole packet with valid
// checksums and the right addresses.
func TestTUNEchoRoundTrip(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	tun := openTUNIn(t, ns, testConfig())

	sizes := []int{0, 172, testMTU - 28}
	for i, size := range sizes {
		req := echoRequest(testPeer, testTUNAddr, 0x7070, uint16(i), size)
		if n, err := tun.Write(req); n != len(req) || err != nil {
			t.Fatalf("Write echo request: %d, %v", n, err)
		}
	}
	buf := make([]byte, testMTU)
	for i, size := range sizes {
		n, err := tun.Read(buf)
		if err != nil {
			t.Fatalf("Read reply %d: %v", i, err)
		}
		reply := buf[:n]
		h, ok := ParseIPv4(reply)
		if !ok || h.TotalLen != n || n != 28+size {
			t.Fatalf("reply %d: %d bytes, header %+v ok=%v; want one packet of %d bytes", i, n, h, ok, 28+size)
		}
		if h.Src.String() != testTUNAddr || h.Dst.String() != testPeer || h.Protocol != ProtocolICMP {
			t.Errorf("reply %d: %s → %s proto %d, want ICMP %s → %s", i, h.Src, h.Dst, h.Protocol, testTUNAddr, testPeer)
		}
		icmp := reply[h.HeaderLen:]
		if Checksum(reply[:h.HeaderLen]) != 0 || Checksum(icmp) != 0 {
			t.Errorf("reply %d: bad checksum", i)
		}
		if icmp[0] != 0 || binary.BigEndian.Uint16(icmp[4:]) != 0x7070 || binary.BigEndian.Uint16(icmp[6:]) != uint16(i) {
			t.Errorf("reply %d: ICMP % x, want echo reply id 0x7070 seq %d", i, icmp[:8], i)
		}
		req := echoRequest(testPeer, testTUNAddr, 0x7070, uint16(i), size)
		if !bytes.Equal(icmp[8:], req[28:]) {
			t.Errorf("reply %d: payload differs from the request's", i)
		}
	}
}

// TestTUNReadsUDPWhole sends from a socket in the namespace to an address
// the TUN's prefix routes into it: the datagram is read whole.
func TestTUNReadsUDPWhole(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	tun := openTUNIn(t, ns, testConfig())

	var conn net.Conn
	if err := ns.Do(func() (err error) {
		conn, err = net.Dial("udp4", "198.19.70.9:9")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	payload := bytes.Repeat([]byte("polylink"), 125)
	if _, err := conn.Write(payload); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, testMTU)
	n, err := tun.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	h, ok := ParseIPv4(buf[:n])
	if !ok || n != 20+8+len(payload) || h.TotalLen != n || h.Protocol != ProtocolUDP ||
		h.Src.String() != testTUNAddr || h.Dst.String() != "198.19.70.9" {
		t.Fatalf("read %d bytes, header %+v ok=%v; want the %d-byte UDP datagram %s → 198.19.70.9",
			n, h, ok, 28+len(payload), testTUNAddr)
	}
	udp := buf[h.HeaderLen:n]
	if binary.BigEndian.Uint16(udp[2:]) != 9 || int(binary.BigEndian.Uint16(udp[4:])) != 8+len(payload) ||
		!bytes.Equal(udp[8:], payload) {
		t.Errorf("UDP header % x or payload differs", udp[:8])
	}
}

// TestTUNReadTruncated reads a packet into a short buffer: Read says so, and
// the next Read returns the next packet, not the rest of the first.
func TestTUNReadTruncated(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	tun := openTUNIn(t, ns, testConfig())

	tun.Write(echoRequest(testPeer, testTUNAddr, 1, 1, 1000))
	tun.Write(echoRequest(testPeer, testTUNAddr, 1, 2, 10))
	small := make([]byte, 100)
	if n, err := tun.Read(small); n != 100 || !errors.Is(err, ErrPacketTruncated) {
		t.Fatalf("Read of a 1028-byte packet into 100 bytes = %d, %v; want 100, ErrPacketTruncated", n, err)
	}
	buf := make([]byte, testMTU)
	n, err := tun.Read(buf)
	if h, ok := ParseIPv4(buf[:n]); err != nil || !ok || n != 38 {
		t.Errorf("next Read = %d bytes %+v, %v; want the 38-byte second reply", n, h, err)
	}
}

// TestTUNCloseUnblocksRead checks the Close contract on the real TUN, that
// the kernel deletes the interface, and that no file descriptor leaks.
func TestTUNCloseUnblocksRead(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	nl := netlinkIn(t, ns)
	// A first open and close starts what Go opens once per process (the
	// poller), so the count below sees only what OpenTUN leaves behind.
	openTUNIn(t, ns, testConfig()).Close()
	waitLinkGone(t, nl, testTUNName)

	before := countFDs(t)
	tun := openTUNIn(t, ns, testConfig())
	tun.SetReadDeadline(time.Time{})
	testCloseUnblocksRead(t, tun)
	waitLinkGone(t, nl, testTUNName)
	if after := countFDs(t); after != before {
		t.Errorf("%d file descriptors open after Close, %d before OpenTUN", after, before)
	}
}

// TestTUNDeletedOutside deletes the interface under a blocked Read: Read
// returns ErrTUNDeleted instead of hanging or spinning.
func TestTUNDeletedOutside(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	tun := openTUNIn(t, ns, testConfig())
	readErr := make(chan error, 1)
	go func() {
		_, err := tun.Read(make([]byte, testMTU))
		readErr <- err
	}()
	if _, err := ns.Run("ip", "link", "del", testTUNName); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; !errors.Is(err, ErrTUNDeleted) {
		t.Errorf("Read after ip link del = %v, want ErrTUNDeleted", err)
	}
	if _, err := tun.Write(echoRequest(testPeer, testTUNAddr, 1, 1, 10)); !errors.Is(err, ErrTUNDeleted) {
		t.Errorf("Write after ip link del = %v, want ErrTUNDeleted", err)
	}
	if err := tun.Close(); err != nil {
		t.Errorf("Close after ip link del = %v", err)
	}
}

func TestOpenTUNNameInUse(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	openTUNIn(t, ns, testConfig())
	err := ns.Do(func() error {
		tun, err := OpenTUN(testConfig())
		if err == nil {
			tun.Close()
		}
		return err
	})
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "TUN "+testTUNName+" is in use") {
		t.Errorf("second OpenTUN = %v; want EBUSY saying the TUN is in use", err)
	}
}

func TestOpenTUNNameTakenByOtherLink(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	if _, err := ns.Run("ip", "link", "add", testTUNName, "type", "veth", "peer", "name", "pl-peer0"); err != nil {
		t.Fatal(err)
	}
	err := ns.Do(func() error {
		tun, err := OpenTUN(testConfig())
		if err == nil {
			tun.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "not a plain TUN") {
		t.Errorf("OpenTUN over a veth = %v; want an error saying the name is taken", err)
	}
}

func TestOpenTUNNameTemplate(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	nl := netlinkIn(t, ns)
	cfg := testConfig()
	cfg.Name = "pl-t%d"
	tun := openTUNIn(t, ns, cfg)
	if tun.Name() != "pl-t0" {
		t.Errorf("Name = %q, want pl-t0", tun.Name())
	}
	if link, err := nl.LinkByName(tun.Name()); err != nil || link.Attrs().Index != tun.Index() {
		t.Errorf("LinkByName(%s) = %v, %v; want index %d", tun.Name(), link, err, tun.Index())
	}
}

func TestPrefixInUse(t *testing.T) {
	ns := nstest.Namespace(t, "pl-tun")
	openTUNIn(t, ns, testConfig())
	tests := []struct {
		prefix string
		want   string
	}{
		{"198.19.70.128/25", testTUNName}, // inside the TUN's /24
		{"198.19.64.0/20", testTUNName},   // contains it
		{"198.19.70.1/32", testTUNName},   // its address
		{"198.19.71.0/24", ""},            // next door
		{"127.0.0.0/8", "lo"},
	}
	for _, tt := range tests {
		var got string
		err := ns.Do(func() (err error) {
			got, err = PrefixInUse(netip.MustParsePrefix(tt.prefix))
			return err
		})
		if err != nil || got != tt.want {
			t.Errorf("PrefixInUse(%s) = %q, %v; want %q", tt.prefix, got, err, tt.want)
		}
	}
	if _, err := PrefixInUse(netip.MustParsePrefix("2001:db8::/64")); err == nil {
		t.Error("PrefixInUse accepted an IPv6 prefix")
	}
}

func waitLinkGone(t *testing.T, nl *netlink.Handle, name string) {
	t.Helper()
	for deadline := time.Now().Add(ioTimeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, err := nl.LinkByName(name)
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return
		}
	}
	t.Fatalf("link %s still exists %v after Close", name, ioTimeout)
}

func countFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// BenchmarkTUNEchoRoundTrip is the latency-bound ceiling: one 200-byte echo
// request written into the TUN, the kernel's reply read back, one at a time.
func BenchmarkTUNEchoRoundTrip(b *testing.B) {
	ns := nstest.Namespace(b, "pl-tun")
	tun := openTUNIn(b, ns, testConfig())
	req := echoRequest(testPeer, testTUNAddr, 1, 1, 200-28)
	buf := make([]byte, testMTU)
	for i := 0; b.Loop(); i++ {
		if i%1024 == 0 { // bounds every Read without a timer per packet
			tun.SetReadDeadline(time.Now().Add(ioTimeout))
		}
		if _, err := tun.Write(req); err != nil {
			b.Fatal(err)
		}
		if n, err := tun.Read(buf); err != nil || n != len(req) {
			b.Fatalf("Read = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
}

// BenchmarkTUNWrite is the receive side's ceiling: 200-byte UDP datagrams
// written into the TUN for a socket in the namespace (the kernel drops what
// the socket cannot hold; the TUN write is what is measured).
func BenchmarkTUNWrite(b *testing.B) {
	ns := nstest.Namespace(b, "pl-tun")
	tun := openTUNIn(b, ns, testConfig())
	var sink net.PacketConn
	if err := ns.Do(func() (err error) {
		sink, err = net.ListenPacket("udp4", testTUNAddr+":9")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	pkt := buildIPv4(testPeer, testTUNAddr, ProtocolUDP, 64, nil, udpDatagram(4000, 9, make([]byte, 200-28)))
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := tun.Write(pkt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
}

// BenchmarkTUNRead is the send side's ceiling: 200-byte UDP datagrams a
// socket in the namespace sends as fast as it can, read from the TUN.
func BenchmarkTUNRead(b *testing.B) {
	ns := nstest.Namespace(b, "pl-tun")
	tun := openTUNIn(b, ns, testConfig())
	var conn net.Conn
	if err := ns.Do(func() (err error) {
		conn, err = net.Dial("udp4", "198.19.70.9:9")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		payload := make([]byte, 200-28)
		for {
			select {
			case <-stop:
				return
			default:
			}
			conn.Write(payload) // a full TUN queue drops; the reader is measured
		}
	}()
	defer func() { close(stop); <-sent; conn.Close() }()
	buf := make([]byte, testMTU)
	b.SetBytes(200)
	for i := 0; b.Loop(); i++ {
		if i%1024 == 0 {
			tun.SetReadDeadline(time.Now().Add(ioTimeout))
		}
		if n, err := tun.Read(buf); err != nil || n != 200 {
			b.Fatalf("Read = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
}

// udpDatagram returns a UDP header and payload; checksum 0 means none (RFC 768).
func udpDatagram(src, dst uint16, payload []byte) []byte {
	d := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(d[0:], src)
	binary.BigEndian.PutUint16(d[2:], dst)
	binary.BigEndian.PutUint16(d[4:], uint16(len(d)))
	copy(d[8:], payload)
	return d
}
