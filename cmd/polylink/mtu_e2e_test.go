package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/testbed"
)

// iperfReport is what the tests read of iperf3 -J.
type iperfReport struct {
	Error string `json:"error"`
	End   struct {
		SumReceived struct {
			Bytes         float64 `json:"bytes"`
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
}

// TestNarrowMiddlePathNoBlackHole: robot 1's first uplink crosses a link
// of MTU 1,400 between its NAT and the internet, invisible at either end
// (both NICs have 1,500); its second uplink is cut, so the narrow path is
// the only one. TCP through the tunnel must still complete (the first
// full-size packets die at the narrow link, its ICMP teaches the kernel
// the path MTU, polylink lowers the TUN's MTU to match, TCP shrinks its
// segments); a UDP send larger than the new MTU with DF gets an error, not
// silence.
func TestNarrowMiddlePathNoBlackHole(t *testing.T) {
	nn := newNATNet(t, testbed.NATOptions{MiddleMTU: 1400}, testbed.NATServerAddr+":"+natPort)
	robot := nn.robots[0]
	waitFor(t, "robot 1: both UDP paths up", 10*time.Second, func() bool { return upOver(robot, natVIPServer, "udp") == 2 })
	if err := nn.CutUplink(2, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "robot 1: only the narrow path up", 3*time.Second, func() bool { return upOver(robot, natVIPServer, "udp") == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := nn.Server.Command(ctx, "iperf3", "-s", "-1", "-B", natVIPServer, "-p", "5211")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = srv.Wait() })
	var (
		out []byte
		err error
		rep iperfReport
	)
	for range 30 { // until the server listens
		out, err = nn.Robots[0].Command(ctx, "iperf3", "-c", natVIPServer, "-p", "5211", "-t", "3", "-J").Output()
		rep = iperfReport{}
		if jerr := json.Unmarshal(out, &rep); err == nil && jerr == nil && rep.Error == "" || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || rep.Error != "" {
		t.Fatalf("iperf3 TCP over the narrow path: %v %s\n%s", err, rep.Error, out)
	}
	mtu := robot.status().TUN.MTU
	t.Logf("iperf3 TCP over the 1,400-byte path: %.1f Mbit/s, %.1f MB; TUN MTU now %d", rep.End.SumReceived.BitsPerSecond/1e6,
		rep.End.SumReceived.Bytes/1e6, mtu)
	if rep.End.SumReceived.Bytes < 1e6 {
		t.Fatalf("TCP moved %.0f bytes in 3 s: black-holed\n%s", rep.End.SumReceived.Bytes, out)
	}
	if want := 1400 - 20 - 8 - 16; mtu != want {
		t.Fatalf("TUN MTU %d, want %d (1,400 less outer IPv4, UDP and bundle header)", mtu, want)
	}

	// A datagram larger than the path with DF set: EMSGSIZE at once.
	err = nn.Robots[0].Do(func() error {
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(natVIPServer), Port: 5212})
		if err != nil {
			return err
		}
		defer c.Close()
		raw, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
		}); err != nil || serr != nil {
			return errors.Join(err, serr)
		}
		_, err = c.Write(make([]byte, 1400))
		return err
	})
	if !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("a 1,400-byte UDP payload with DF through a %d-byte tunnel: %v, want EMSGSIZE", mtu, err)
	}
}
