package testbed

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/testbed/stream"
)

// sinkBuffer is the receive buffer of a flow's sink: the sink must never be
// what drops packets, even at high rates.
const sinkBuffer = 8 << 20

// OpenFlow opens a real-time stream of profile p from namespace from to
// dst:port, received in namespace to: the sink listens inside to, the
// sender's UDP socket is connected inside from. start is the shared time
// axis (stream.Now() based; 0 = when the sender runs). Close the returned
// closer after the flow has run.
func OpenFlow(name string, from, to *Namespace, dst netip.Addr, port int, p stream.Profile, start int64) (stream.Flow, func(), error) {
	return OpenFlowVia(name, from, "", to, dst, port, p, start)
}

// OpenFlowVia is OpenFlow with the sender's socket bound to the NIC dev
// (SO_BINDTODEVICE) unless dev is empty: a stream over one uplink of a
// host whose routes prefer another.
func OpenFlowVia(name string, from *Namespace, dev string, to *Namespace, dst netip.Addr, port int, p stream.Profile, start int64) (stream.Flow, func(), error) {
	var rc, sc *net.UDPConn
	closeAll := func() {
		if rc != nil {
			rc.Close()
		}
		if sc != nil {
			sc.Close()
		}
	}
	if err := to.Do(func() (err error) {
		rc, err = net.ListenUDP("udp4", &net.UDPAddr{Port: port})
		return err
	}); err != nil {
		return stream.Flow{}, nil, fmt.Errorf("flow %s: listen in %s: %w", name, to.Name, err)
	}
	if err := forceReadBuffer(rc, sinkBuffer); err != nil {
		closeAll()
		return stream.Flow{}, nil, fmt.Errorf("flow %s: %w", name, err)
	}
	if err := from.Do(func() error {
		d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			if dev == "" {
				return nil
			}
			var serr error
			if err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), dev) }); err != nil {
				return err
			}
			return serr
		}}
		c, err := d.Dial("udp4", netip.AddrPortFrom(dst, uint16(port)).String())
		if err == nil {
			sc = c.(*net.UDPConn)
		}
		return err
	}); err != nil {
		closeAll()
		return stream.Flow{}, nil, fmt.Errorf("flow %s: connect from %s: %w", name, from.Name, err)
	}
	id := uint32(port)
	s, err := stream.NewSender(sc, stream.SenderConfig{StreamID: id, Profile: p, Start: start})
	if err != nil {
		closeAll()
		return stream.Flow{}, nil, err
	}
	// Room for every packet three times over: copies a path delivers after
	// the duplicate window are real arrivals too, and an arrival the sink
	// cannot record would be counted as a loss.
	r, err := stream.NewReceiver(rc, stream.ReceiverConfig{StreamID: id, Profile: p, Capacity: int(3*p.ExpectedPackets() + 64)})
	if err != nil {
		closeAll()
		return stream.Flow{}, nil, err
	}
	return stream.Flow{Name: name, Sender: s, Receiver: r}, closeAll, nil
}

// forceReadBuffer sets SO_RCVBUFFORCE: root may exceed net.core.rmem_max.
func forceReadBuffer(c *net.UDPConn, size int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("set receive buffer: %w", serr)
	}
	return nil
}
