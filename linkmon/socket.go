package linkmon

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/internal/ipv4"
)

// socketBuffer is the send and receive buffer of every raw socket: about
// 3,000 full-size packets, so a burst from the TUN or a late reader does not
// drop at the socket.
const socketBuffer = 4 << 20

// ErrTruncated reports a packet larger than the buffer it was read into;
// only its first len(buf) bytes were kept.
var ErrTruncated = errors.New("packet truncated: larger than the read buffer")

// Socket is a raw IP-in-IP socket (AF_INET, SOCK_RAW, IPPROTO_IPIP) bound to
// one NIC and to that NIC's chosen address. Without IP_HDRINCL the kernel
// writes the outer IPv4 header (protocol 4, source = the bound address) on
// send; on receive it hands over the whole packet, outer header included,
// which ReadFrom and ReadBatch strip.
//
// It receives only packets that arrived on its NIC and are addressed to its
// address, and sends only through its NIC, whatever the routing table says.
//
// A Socket is safe for one reader and any number of concurrent writers. A
// Monitor owns the sockets it hands out: it closes one when its NIC goes
// away or changes address, and a blocked reader then gets net.ErrClosed.
type Socket struct {
	nic atomic.Pointer[NIC]
	*pollFD

	rxMu sync.Mutex
	rx   *batch // guarded by rxMu; allocated on first read
}

// OpenSocket opens a raw IP-in-IP socket bound to nic (by index, falling back
// to the name on kernels before 5.0) and to nic.Addr, in the calling thread's
// network namespace. It needs CAP_NET_RAW.
func OpenSocket(nic NIC) (*Socket, error) {
	nic = nic.clone()
	if !nic.Addr.Is4() {
		return nil, fmt.Errorf("open socket on %s: address %v is not IPv4", nic.Name, nic.Addr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_IPIP)
	if err != nil {
		return nil, fmt.Errorf("open raw IP-in-IP socket for %s: %w", nic.Name, err)
	}
	if err := configureSocket(fd, nic); err != nil {
		unix.Close(fd)
		return nil, err
	}
	pfd, err := newPollFD(fd, nic.Name)
	if err != nil {
		return nil, err
	}
	s := &Socket{pollFD: pfd}
	s.nic.Store(&nic)
	return s, nil
}

func configureSocket(fd int, nic NIC) error {
	if err := pinSocket(fd, nic, false); err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: nic.Addr.As4()}); err != nil {
		return fmt.Errorf("bind socket on %s to %s: %w", nic.Name, nic.Addr, err)
	}
	return nil
}

// pinSocket sets what every socket of a NIC needs, raw or UDP: bound to the
// NIC, large buffers, never fragmented.
func pinSocket(fd int, nic NIC, v6 bool) error {
	if err := bindToDevice(fd, nic); err != nil {
		return fmt.Errorf("bind socket to device %s: %w", nic.Name, err)
	}
	if err := setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF); err != nil {
		return fmt.Errorf("set receive buffer of socket on %s: %w", nic.Name, err)
	}
	if err := setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF); err != nil {
		return fmt.Errorf("set send buffer of socket on %s: %w", nic.Name, err)
	}
	if err := setDontFragment(fd, v6); err != nil {
		return fmt.Errorf("set don't-fragment on socket on %s: %w", nic.Name, err)
	}
	return nil
}

// bindToDevice pins fd to the NIC. SO_BINDTOIFINDEX names the NIC by index,
// so a rename racing with the call cannot bind the wrong NIC.
func bindToDevice(fd int, nic NIC) error {
	if nic.Index > 0 {
		err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BINDTOIFINDEX, nic.Index)
		if !errors.Is(err, unix.ENOPROTOOPT) {
			return err
		}
	}
	if nic.Name == "" {
		return errors.New("NIC has neither index nor name")
	}
	return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, nic.Name)
}

// setBuffer sets a socket buffer to socketBuffer, beyond the rmem_max and
// wmem_max caps when the process has CAP_NET_ADMIN.
func setBuffer(fd, forceOpt, opt int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, forceOpt, socketBuffer) == nil {
		return nil
	}
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, socketBuffer)
}

// NIC returns the NIC the socket is bound to, as last updated by its monitor
// (name and MTU may change without a new socket; the address never does).
func (s *Socket) NIC() NIC { return s.nic.Load().clone() }

func (s *Socket) setNIC(nic NIC) {
	nic = nic.clone()
	s.nic.Store(&nic)
}

// ReadFrom reads one packet into buf and returns the payload after the outer
// IPv4 header (a subslice of buf) and the outer source address. A packet
// larger than buf returns its truncated payload with ErrTruncated. Errors
// other than net.ErrClosed and os.ErrDeadlineExceeded concern one packet:
// keep reading.
func (s *Socket) ReadFrom(buf []byte) (payload []byte, src netip.Addr, err error) {
	if len(buf) == 0 {
		return nil, netip.Addr{}, errors.New("read: empty buffer")
	}
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	b := s.rxBatch()
	b.setRecv(0, buf)
	n, err := b.recv(s.conn, 1)
	if err != nil {
		return nil, netip.Addr{}, s.ioError("read", err)
	}
	if n != 1 {
		return nil, netip.Addr{}, s.ioError("read", unix.EIO)
	}
	size, truncated := b.received(0)
	payload, src, ok := parseOuterHeader(buf[:size])
	switch {
	case !ok:
		return nil, netip.Addr{}, fmt.Errorf("read on %s: malformed outer IPv4 header", s.nic.Load().Name)
	case truncated:
		return payload, src, ErrTruncated
	}
	return payload, src, nil
}

// WriteTo sends payload to dst through the socket's NIC; the kernel prepends
// the outer IPv4 header (protocol 4, source = the NIC's chosen address).
func (s *Socket) WriteTo(payload []byte, dst netip.Addr) error {
	dst = dst.Unmap()
	if !dst.Is4() {
		return fmt.Errorf("write on %s: destination %v is not IPv4", s.nic.Load().Name, dst)
	}
	b := getBatch()
	defer putBatch(b)
	b.setSend(0, payload, dst)
	if _, err := b.send(s.conn, 1); err != nil {
		return s.ioError("write", err)
	}
	return nil
}

// TryWriteTo sends payload to dst if the socket can take it at once: sent
// is false, with a nil error, when the write would block. The caller sends
// from its own goroutine and falls back to a queue drained with WriteTo.
func (s *Socket) TryWriteTo(payload []byte, dst netip.Addr) (sent bool, err error) {
	dst = dst.Unmap()
	if !dst.Is4() {
		return false, fmt.Errorf("write on %s: destination %v is not IPv4", s.nic.Load().Name, dst)
	}
	b := getBatch()
	defer putBatch(b)
	b.setSend(0, payload, dst)
	sent, err = b.trySend(s.conn)
	if err != nil {
		return sent, s.ioError("write", err)
	}
	return sent, nil
}

// SetReadDeadline sets the deadline for ReadFrom and ReadBatch; a read past
// it returns an error wrapping os.ErrDeadlineExceeded. Zero means none.
func (s *Socket) SetReadDeadline(t time.Time) error { return s.setReadDeadline(t) }

// Close closes the socket. It is idempotent, and a ReadFrom or ReadBatch
// blocked in another goroutine returns net.ErrClosed.
func (s *Socket) Close() error { return s.close(s.nic.Load().Name) }

// ioError names the socket in err, and turns the poller's "file closed"
// into net.ErrClosed, the error readers watch for.
func (s *Socket) ioError(op string, err error) error {
	return s.pollFD.ioError(s.nic.Load().Name, op, err)
}

// parseOuterHeader splits a received packet into its outer source address
// and the payload after the outer IPv4 header.
func parseOuterHeader(pkt []byte) (payload []byte, src netip.Addr, ok bool) {
	ihl := ipv4.HeaderLen(pkt)
	if ihl == 0 {
		return nil, netip.Addr{}, false
	}
	return pkt[ihl:], ipv4.Src(pkt), true
}
