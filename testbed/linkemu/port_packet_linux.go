package linkemu

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// PacketPort is a Port on a network interface: an AF_PACKET socket that
// sees every frame arriving on the interface (any type, any destination
// MAC) and sends whole frames out of it. It ignores the frames it sends
// (PACKET_IGNORE_OUTGOING, Linux ≥ 4.20), so a bridge never loops.
type PacketPort struct {
	name   string
	file   *os.File
	raw    syscall.RawConn
	drops  atomic.Uint64 // kernel receive-queue drops read so far
	closed atomic.Bool
}

// packetRcvBuf is the receive buffer asked for: about 30 ms of 10 Gbit/s
// bursts, so a briefly descheduled reader does not lose frames.
const packetRcvBuf = 4 << 20

// OpenPacket opens a packet port on the interface ifname of the calling
// thread's network namespace (use testbed's Namespace.Do); the socket stays
// in that namespace afterwards.
func OpenPacket(ifname string) (*PacketPort, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("packet port %s: %w", ifname, err)
	}
	// Protocol 0 receives nothing until bind names the interface: a socket
	// created with ETH_P_ALL would first see every interface's frames.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet port %s: socket: %w", ifname, err)
	}
	if err := setupPacket(fd, ifi.Index); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("packet port %s: %w", ifname, err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+ifname)
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("packet port %s: %w", ifname, err)
	}
	return &PacketPort{name: ifname, file: f, raw: raw}, nil
}

func setupPacket(fd, ifindex int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fmt.Errorf("set PACKET_IGNORE_OUTGOING (needs Linux 4.20): %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, packetRcvBuf); err != nil {
		// Without CAP_NET_ADMIN: as much as rmem_max allows.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, packetRcvBuf)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Name returns the interface's name.
func (p *PacketPort) Name() string { return p.name }

// ReadFrame waits for the next frame on the interface.
func (p *PacketPort) ReadFrame(buf []byte) (int, error) {
	var n int
	var rerr error
	err := p.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), buf)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return 0, p.closedAsNet(err)
	}
	if rerr != nil {
		return 0, fmt.Errorf("read %s: %w", p.name, rerr)
	}
	return n, nil
}

// WriteFrame sends frame out of the interface.
func (p *PacketPort) WriteFrame(frame []byte) error {
	var werr error
	err := p.raw.Write(func(fd uintptr) bool {
		for {
			_, werr = unix.Write(int(fd), frame)
			if werr != unix.EINTR {
				return werr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return p.closedAsNet(err)
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", p.name, werr)
	}
	return nil
}

// KernelDrops returns how many frames the kernel dropped because the
// socket's receive queue was full, since the port opened.
func (p *PacketPort) KernelDrops() uint64 {
	_ = p.raw.Control(func(fd uintptr) {
		// PACKET_STATISTICS reads and resets the kernel's counters.
		if st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			p.drops.Add(uint64(st.Drops))
		}
	})
	return p.drops.Load()
}

// Close closes the socket; a blocked ReadFrame returns net.ErrClosed.
// Idempotent.
func (p *PacketPort) Close() error {
	p.closed.Store(true)
	if err := p.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("close packet port %s: %w", p.name, err)
	}
	return nil
}

// closedAsNet reports a closed port the way the Port contract says: the
// raw conn of a closed os.File returns poll's own "use of closed file".
func (p *PacketPort) closedAsNet(err error) error {
	if p.closed.Load() || errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	return err
}
