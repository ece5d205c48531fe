package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/polylink/polylink/router"
	"github.com/polylink/polylink/testbed"
)

// TestExitClampsTCPMSS: TCP SYNs forwarded through the exit offer at most
// the exit TUN's MTU less 40, both ways. The robot sends a SYN offering
// 1460 (as a host behind it with an Ethernet MTU would) to a listening
// server outside; the server's SYN-ACK offers 1460 too (its link is
// Ethernet). Without the clamp both arrive with 1460, and full-size
// segments into the tunnel would rely on ICMP reaching the sender.
func TestExitClampsTCPMSS(t *testing.T) {
	en := newExitNet(t)
	mtu := linkMTU(t, en.router, "pl0")
	limit := mtu - 40
	if limit >= 1460 {
		t.Fatalf("the exit's TUN MTU is %d: the test needs one below 1500", mtu)
	}
	const sport, dport = 40111, 7200

	var srv *net.TCPListener
	var inetRaw, robotRaw *net.IPConn
	must(t, en.inet.Do(func() (err error) {
		if srv, err = net.ListenTCP("tcp4", &net.TCPAddr{IP: net.ParseIP(exitInet), Port: dport}); err != nil {
			return err
		}
		inetRaw, err = net.ListenIP("ip4:tcp", &net.IPAddr{IP: net.ParseIP(exitInet)})
		return err
	}))
	defer srv.Close()
	defer inetRaw.Close()
	must(t, en.robot.Do(func() (err error) {
		robotRaw, err = net.ListenIP("ip4:tcp", &net.IPAddr{IP: net.ParseIP(exitRobotVIP)})
		return err
	}))
	defer robotRaw.Close()

	syn := tcpSYN(netip.MustParseAddr(exitRobotVIP), netip.MustParseAddr(exitInet), sport, dport, 1460)
	if _, err := robotRaw.WriteToIP(syn, &net.IPAddr{IP: net.ParseIP(exitInet)}); err != nil {
		t.Fatal(err)
	}
	// Outside: the SYN, masqueraded (its source port may change).
	out := readMSS(t, inetRaw, "SYN at the server outside", func(h []byte) bool {
		return binary.BigEndian.Uint16(h[2:]) == dport && h[13]&0x12 == 0x02
	})
	// Back at the robot: the server's SYN-ACK to the crafted SYN.
	back := readMSS(t, robotRaw, "SYN-ACK back at the robot", func(h []byte) bool {
		return binary.BigEndian.Uint16(h[0:]) == dport && binary.BigEndian.Uint16(h[2:]) == sport && h[13]&0x12 == 0x12
	})
	t.Logf("exit TUN MTU %d: SYN offered 1460, seen outside %d; SYN-ACK offered 1460 (server's Ethernet), seen at the robot %d", mtu, out, back)
	if out > limit || back > limit {
		t.Errorf("MSS through the exit: SYN %d outside, SYN-ACK %d at the robot; want both ≤ %d (TUN MTU %d − 40)", out, back, limit, mtu)
	}

	// Stopping the router removes the clamp with the rest of its table.
	en.nRobot.stop()
	en.nRouter.stop()
	if tables, _ := en.router.Run("nft", "list", "tables"); regexp.MustCompile(`polylink`).MatchString(tables) {
		t.Errorf("router's nftables table left after exit: %s", tables)
	}
}

// linkMTU reads a link's MTU in ns.
func linkMTU(t *testing.T, ns *testbed.Namespace, dev string) int {
	t.Helper()
	out, err := ns.Run("ip", "-o", "link", "show", dev)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(` mtu (\d+) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no mtu in %q", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// tcpSYN builds a TCP SYN header offering mss, its checksum over the
// IPv4 pseudo-header of src → dst.
func tcpSYN(src, dst netip.Addr, sport, dport uint16, mss uint16) []byte {
	h := make([]byte, 24)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], 0x1000)
	h[12] = 6 << 4 // 24 bytes: the header and the MSS option
	h[13] = 0x02   // SYN
	binary.BigEndian.PutUint16(h[14:], 64240)
	h[20], h[21] = 2, 4
	binary.BigEndian.PutUint16(h[22:], mss)
	pseudo := make([]byte, 0, 12+len(h))
	pseudo = append(pseudo, src.AsSlice()...)
	pseudo = append(pseudo, dst.AsSlice()...)
	pseudo = append(pseudo, 0, 6, 0, byte(len(h)))
	pseudo = append(pseudo, h...)
	binary.BigEndian.PutUint16(h[16:], router.Checksum(pseudo))
	return h
}

// readMSS reads TCP segments from c (a raw socket: each read one TCP
// header and payload) until one matches, and returns its MSS option.
func readMSS(t *testing.T, c *net.IPConn, what string, match func(h []byte) bool) int {
	t.Helper()
	buf := make([]byte, 2048)
	must(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	for {
		n, _, err := c.ReadFromIP(buf)
		if err != nil {
			t.Fatalf("waiting for the %s: %v", what, err)
		}
		h := buf[:n]
		if n < 20 || !match(h) {
			continue
		}
		if mss, ok := mssOption(h); ok {
			return mss
		}
		t.Fatalf("%s without an MSS option: % x", what, h)
	}
}

// mssOption finds the MSS option among a TCP header's options.
func mssOption(h []byte) (int, bool) {
	off := int(h[12]>>4) * 4
	if off < 20 || off > len(h) {
		return 0, false
	}
	for o := h[20:off]; len(o) > 0; {
		switch o[0] {
		case 0:
			return 0, false
		case 1:
			o = o[1:]
			continue
		}
		if len(o) < 2 || int(o[1]) < 2 || int(o[1]) > len(o) {
			return 0, false
		}
		if o[0] == 2 && o[1] == 4 {
			return int(binary.BigEndian.Uint16(o[2:])), true
		}
		o = o[o[1]:]
	}
	return 0, false
}
