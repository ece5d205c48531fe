package linkmon

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultUDPPort is the UDP port a polylink node receives on unless told
// otherwise: unassigned by IANA, and near WireGuard's 51820 without
// colliding with it.
const DefaultUDPPort = 45820

// UDPHeaderLen is the UDP header every UDP path adds to the outer IP header.
const UDPHeaderLen = 8

// UDPSocket is a UDP socket bound to one NIC (SO_BINDTOIFINDEX, like
// Socket) and to one of that NIC's addresses and the node's UDP port. It
// carries the same bundle packets as the raw socket, after a UDP header,
// so they pass NATs and firewalls that only forward TCP, UDP and ICMP; the
// far end's address and port tell NAT-mapped paths apart.
//
// Every packet it sends has DF set (IPv4) or is never fragmented (IPv6),
// and carries the DSCP the writer gives. It is safe for one reader and any
// number of concurrent writers; its Monitor closes it like a Socket.
type UDPSocket struct {
	nic   atomic.Pointer[NIC]
	local netip.AddrPort
	*pollFD

	rxMu sync.Mutex
	rx   *ctlBatch // guarded by rxMu; allocated on first read
}

// OpenUDPSocket opens a UDP socket bound to nic (by index, falling back to
// the name) and to local, which must be one of nic's addresses (IPv4 or
// IPv6) with the node's port, in the calling thread's network namespace.
func OpenUDPSocket(nic NIC, local netip.AddrPort) (*UDPSocket, error) {
	nic = nic.clone()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	v6 := local.Addr().Is6()
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("open UDP socket for %s: %w", nic.Name, err)
	}
	if err := configureUDP(fd, nic, local); err != nil {
		unix.Close(fd)
		return nil, err
	}
	pfd, err := newPollFD(fd, nic.Name)
	if err != nil {
		return nil, err
	}
	s := &UDPSocket{local: local, pollFD: pfd}
	s.nic.Store(&nic)
	return s, nil
}

func configureUDP(fd int, nic NIC, local netip.AddrPort) error {
	v6 := local.Addr().Is6()
	if v6 {
		// An IPv6 socket takes IPv4 too unless told not to: the IPv4
		// socket beside it owns those.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fmt.Errorf("set IPv6-only on UDP socket on %s: %w", nic.Name, err)
		}
	}
	if err := pinSocket(fd, nic, v6); err != nil {
		return err
	}
	// The outer TOS of every packet received, for its ECN bits.
	recvTOS := func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTOS, 1) }
	if v6 {
		recvTOS = func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1) }
	}
	if err := recvTOS(); err != nil {
		return fmt.Errorf("ask for the TOS of packets received on UDP socket on %s: %w", nic.Name, err)
	}
	var sa unix.Sockaddr
	if v6 {
		sa = &unix.SockaddrInet6{Addr: local.Addr().As16(), Port: int(local.Port())}
	} else {
		sa = &unix.SockaddrInet4{Addr: local.Addr().As4(), Port: int(local.Port())}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind UDP socket on %s to %s: %w", nic.Name, local, err)
	}
	return nil
}

// NIC returns the NIC the socket is bound to, as last updated by its
// monitor.
func (s *UDPSocket) NIC() NIC { return s.nic.Load().clone() }

func (s *UDPSocket) setNIC(nic NIC) {
	nic = nic.clone()
	s.nic.Store(&nic)
}

// LocalAddr returns the address and port the socket is bound to.
func (s *UDPSocket) LocalAddr() netip.AddrPort { return s.local }

// UDPMessage is one packet of UDPSocket.ReadBatch or WriteBatch.
//
// ReadBatch reads into Buf and sets N, Truncated, Addr (the source),
// Payload (Buf[:N]) and TOS. WriteBatch sends Payload to Addr with TOS and
// reads nothing else.
type UDPMessage struct {
	// Buf is where ReadBatch puts the packet; it must not be empty.
	Buf []byte
	// N is how many bytes ReadBatch received into Buf.
	N int
	// Truncated reports a packet larger than Buf: drop it.
	Truncated bool
	// Addr is the source on ReadBatch, the destination on WriteBatch.
	Addr netip.AddrPort
	// Payload is the packet (the UDP payload).
	Payload []byte
	// TOS is the outer IPv4 TOS or IPv6 traffic class byte: the one the
	// packet arrived with on ReadBatch (its ECN bits may carry a congestion
	// mark), the one to send with on WriteBatch.
	TOS uint8
}

// ReadFrom reads one packet into buf and returns it (a subslice of buf)
// and its source. A packet larger than buf returns its truncated start with
// ErrTruncated. Errors other than net.ErrClosed and os.ErrDeadlineExceeded
// concern one packet: keep reading.
func (s *UDPSocket) ReadFrom(buf []byte) (payload []byte, src netip.AddrPort, err error) {
	msgs := [1]UDPMessage{{Buf: buf}}
	if _, err := s.ReadBatch(msgs[:]); err != nil {
		return nil, netip.AddrPort{}, err
	}
	m := &msgs[0]
	if m.Truncated {
		return m.Payload, m.Addr, ErrTruncated
	}
	return m.Payload, m.Addr, nil
}

// ReadBatch reads up to len(msgs) (at most maxBatch) packets with one
// recvmmsg, blocking until at least one is there, and returns how many it
// read. Errors are as for ReadFrom.
func (s *UDPSocket) ReadBatch(msgs []UDPMessage) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	if s.rx == nil {
		s.rx = newCtlBatch()
	}
	b := s.rx
	n, err := readChunk(b.batch, s.conn, msgs, func(i int, m *UDPMessage) []byte {
		b.setRecvFrom(i, m.Buf)
		return m.Buf
	}, func(i int, m *UDPMessage) {
		m.N, m.Truncated = b.received(i)
		m.N = min(m.N, len(m.Buf))
		m.Payload = m.Buf[:m.N]
		m.Addr, _ = b.source(i)
		m.TOS = b.receivedTOS(i)
	})
	if err != nil {
		return 0, s.ioError("read batch", err)
	}
	return n, nil
}

// WriteTo sends payload to dst through the socket's NIC, the outer header
// carrying tos (DSCP and ECN).
func (s *UDPSocket) WriteTo(payload []byte, dst netip.AddrPort, tos uint8) error {
	if err := s.checkDst(dst); err != nil {
		return err
	}
	b := getCtlBatch()
	defer putCtlBatch(b)
	b.setSendTo(0, payload, dst, tos)
	if _, err := b.send(s.conn, 1); err != nil {
		return s.ioError("write", err)
	}
	return nil
}

// TryWriteTo sends like WriteTo if the socket can take the packet at once:
// sent is false, with a nil error, when the write would block.
func (s *UDPSocket) TryWriteTo(payload []byte, dst netip.AddrPort, tos uint8) (sent bool, err error) {
	if err := s.checkDst(dst); err != nil {
		return false, err
	}
	b := getCtlBatch()
	defer putCtlBatch(b)
	b.setSendTo(0, payload, dst, tos)
	sent, err = b.trySend(s.conn)
	if err != nil {
		return sent, s.ioError("write", err)
	}
	return sent, nil
}

// WriteBatch sends every message's Payload to its Addr, maxBatch per
// sendmmsg, and returns how many were sent. It returns fewer than len(msgs)
// only with an error, which concerns msgs[n].
func (s *UDPSocket) WriteBatch(msgs []UDPMessage) (int, error) {
	b := getCtlBatch()
	defer putCtlBatch(b)
	return writeChunks(b.batch, s.conn, msgs, func(i int, m *UDPMessage) error {
		if err := s.checkDst(m.Addr); err != nil {
			return err
		}
		b.setSendTo(i, m.Payload, m.Addr, m.TOS)
		return nil
	}, s.ioError)
}

// checkDst refuses a destination of the other family or without a port.
func (s *UDPSocket) checkDst(dst netip.AddrPort) error {
	a := dst.Addr().Unmap()
	if !a.IsValid() || a.Is6() != s.local.Addr().Is6() || dst.Port() == 0 {
		return s.ioError("write", fmt.Errorf("destination %v does not suit a socket bound to %v", dst, s.local))
	}
	return nil
}

// SetReadDeadline sets the deadline for ReadFrom and ReadBatch; zero means
// none.
func (s *UDPSocket) SetReadDeadline(t time.Time) error { return s.setReadDeadline(t) }

// Close closes the socket. It is idempotent, and a blocked reader returns
// net.ErrClosed.
func (s *UDPSocket) Close() error { return s.close(s.nic.Load().Name) }

func (s *UDPSocket) ioError(op string, err error) error {
	return s.pollFD.ioError(s.nic.Load().Name+" "+s.local.String(), op, err)
}
