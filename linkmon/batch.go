package linkmon

// Batch I/O: one recvmmsg or sendmmsg system call moves up to maxBatch
// packets, through Go's poller so that reads park in the netpoller and Close
// wakes them.
//
//	ReadBatch:  []Message.Buf ──recvmmsg──▶ N, Truncated ──strip outer header──▶ Payload, Addr
//	WriteBatch: []Message.Payload, Addr ──sendmmsg──▶ kernel adds outer header ──▶ NIC

import (
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/internal/sysio"
)

// maxBatch is the most packets one system call moves; longer WriteBatch
// calls are split, longer ReadBatch calls read at most this many.
const maxBatch = 64

// Message is one packet of ReadBatch or WriteBatch.
//
// ReadBatch reads into Buf and sets N (bytes received, outer header
// included), Truncated, Addr (the outer source), TOS and Payload (Buf after the
// outer header; nil if that header is malformed, which the kernel never
// produces). WriteBatch sends Payload to Addr and reads nothing else.
type Message struct {
	// Buf is where ReadBatch puts the packet; it must not be empty.
	Buf []byte
	// N is how many bytes ReadBatch received into Buf.
	N int
	// Truncated reports a packet larger than Buf: drop it.
	Truncated bool
	// Addr is the outer source on ReadBatch, the destination on WriteBatch.
	Addr netip.Addr
	// Payload is the packet after the outer IPv4 header on ReadBatch, the
	// bytes to send on WriteBatch.
	Payload []byte
	// TOS is the outer header's TOS byte on ReadBatch (its ECN bits may
	// carry a congestion mark); WriteBatch sends with TOS 0.
	TOS uint8
}

// ReadBatch reads up to len(msgs) (at most maxBatch) packets with one
// recvmmsg, blocking until at least one is there, and returns how many it
// read. Errors are as for ReadFrom.
func (s *Socket) ReadBatch(msgs []Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	b := s.rxBatch()
	n, err := readChunk(b, s.conn, msgs, func(i int, m *Message) []byte {
		b.setRecv(i, m.Buf)
		return m.Buf
	}, func(i int, m *Message) {
		m.N, m.Truncated = b.received(i)
		var ok bool
		if m.Payload, m.Addr, ok = parseOuterHeader(m.Buf[:m.N]); !ok {
			m.Payload, m.Addr = nil, netip.Addr{}
		}
		m.TOS = 0
		if ok {
			m.TOS = m.Buf[1]
		}
	})
	if err != nil {
		return 0, s.ioError("read batch", err)
	}
	return n, nil
}

// readChunk is ReadBatch for either kind of socket, the caller holding
// its rxMu: set points message i of b at m's buffer and returns that
// buffer, which must not be empty; got fills m in from message i after the
// call. It reads up to maxBatch messages with one recvmmsg.
func readChunk[M any](b *batch, conn syscall.RawConn, msgs []M, set func(i int, m *M) []byte, got func(i int, m *M)) (int, error) {
	msgs = msgs[:min(len(msgs), maxBatch)]
	for i := range msgs {
		if len(set(i, &msgs[i])) == 0 {
			return 0, errors.New("empty buffer")
		}
	}
	n, err := b.recv(conn, len(msgs))
	if err != nil {
		return 0, err
	}
	for i := range n {
		got(i, &msgs[i])
	}
	return n, nil
}

// WriteBatch sends every message's Payload to its Addr, maxBatch per
// sendmmsg, and returns how many were sent. It returns fewer than len(msgs)
// only with an error, which concerns msgs[n]: the caller may skip that one
// and send the rest.
func (s *Socket) WriteBatch(msgs []Message) (int, error) {
	b := getBatch()
	defer putBatch(b)
	return writeChunks(b, s.conn, msgs, func(i int, m *Message) error {
		dst := m.Addr.Unmap()
		if !dst.Is4() {
			return s.ioError("write batch", errors.New("destination is not IPv4"))
		}
		b.setSend(i, m.Payload, dst)
		return nil
	}, s.ioError)
}

func (s *Socket) rxBatch() *batch {
	if s.rx == nil {
		s.rx = newBatch()
	}
	return s.rx
}

// batch is the kernel-facing scratch of one recvmmsg or sendmmsg: message
// headers, iovecs and destination addresses, plus the poller callbacks bound
// once, so a call allocates nothing. One goroutine uses a batch at a time:
// a Socket's reader its rx batch, a writer one from batchPool.
type batch struct {
	hdrs  [maxBatch]unix.Mmsghdr
	iovs  [maxBatch]unix.Iovec
	names [maxBatch]unix.RawSockaddrInet4

	// Arguments and results of the callbacks below.
	count int        // messages to move
	done  int        // messages moved
	errno unix.Errno // the call's error, 0 if none
	recvF func(uintptr) bool
	sendF func(uintptr) bool
	// trySendF sends without waiting for the poller; it sets wouldBlock
	// when the socket is full. Prebuilt, like the others, so passing it to
	// RawConn does not allocate a closure per packet.
	trySendF   func(uintptr)
	wouldBlock bool
}

var batchPool = sync.Pool{New: func() any { return newBatch() }}

func getBatch() *batch  { return batchPool.Get().(*batch) }
func putBatch(b *batch) { b.forget(); batchPool.Put(b) }

func newBatch() *batch {
	b := &batch{}
	for i := range b.hdrs {
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
	}
	b.recvF = b.recvOnFD
	b.sendF = b.sendOnFD
	b.trySendF = func(fd uintptr) { b.wouldBlock = !b.sendOnFD(fd) }
	return b
}

// setRecv points message i at buf, with no address wanted: the outer header
// carries the source.
func (b *batch) setRecv(i int, buf []byte) {
	b.iovs[i].Base = unsafe.SliceData(buf)
	b.iovs[i].SetLen(len(buf))
	h := &b.hdrs[i]
	h.Hdr.Name, h.Hdr.Namelen = nil, 0
	h.Hdr.Flags, h.Len = 0, 0
}

// setSend points message i at payload, addressed to dst.
func (b *batch) setSend(i int, payload []byte, dst netip.Addr) {
	b.names[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.As4()}
	b.iovs[i].Base = unsafe.SliceData(payload)
	b.iovs[i].SetLen(len(payload))
	h := &b.hdrs[i]
	h.Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	h.Hdr.Namelen = unix.SizeofSockaddrInet4
	h.Hdr.Flags, h.Len = 0, 0
}

// received returns the size of message i after recv and whether the kernel
// truncated it.
func (b *batch) received(i int) (n int, truncated bool) {
	return int(b.hdrs[i].Len), b.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0
}

// recv reads up to count messages, waiting in the poller until one arrives.
func (b *batch) recv(conn syscall.RawConn, count int) (int, error) {
	b.count, b.done, b.errno = count, 0, 0
	err := conn.Read(b.recvF)
	return b.done, b.result(err)
}

// send writes count messages, waiting in the poller while the send buffer is
// full, and stops at the first message the kernel refuses.
func (b *batch) send(conn syscall.RawConn, count int) (int, error) {
	b.count, b.done, b.errno = count, 0, 0
	err := conn.Write(b.sendF)
	return b.done, b.result(err)
}

func (b *batch) result(pollErr error) error {
	if pollErr != nil {
		return pollErr
	}
	if b.errno != 0 {
		return b.errno
	}
	return nil
}

// recvOnFD is the poller callback for recv; false means "wait until
// readable".
func (b *batch) recvOnFD(fd uintptr) bool {
	n, errno, wait := sysio.Call(unix.SYS_RECVMMSG, fd,
		uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(b.count), 0, 0, 0)
	if wait {
		return false
	}
	b.done, b.errno = n, errno
	return true
}

// sendOnFD is the poller callback for send; it resumes where a partial
// sendmmsg stopped.
func (b *batch) sendOnFD(fd uintptr) bool {
	for b.done < b.count {
		n, errno, wait := sysio.Call(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&b.hdrs[b.done])), uintptr(b.count-b.done), 0, 0, 0)
		if wait {
			return false
		}
		if errno != 0 {
			b.errno = errno
			return true
		}
		b.done += n
	}
	return true
}

// forget drops the pointers into callers' buffers so a pooled batch does
// not keep them alive.
func (b *batch) forget() {
	for i := range b.iovs[:max(b.count, 1)] {
		b.iovs[i].Base = nil
	}
}
