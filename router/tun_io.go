package router

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tunIO carries one read or write through the poller's RawConn. The TUN fd
// is non-blocking, so the system call returns at once and is made with
// RawSyscall: a plain Syscall tells the runtime it may block, which wakes
// its sysmon thread whenever the process was idle — three context switches
// per packet at low rates. The method values are built once so a packet
// costs no closure allocation.
type tunIO struct {
	buf    []byte
	n      int
	errno  unix.Errno
	readF  func(uintptr) bool
	writeF func(uintptr) bool
}

func newTunIO() *tunIO {
	io := &tunIO{}
	io.readF = func(fd uintptr) bool { return io.call(unix.SYS_READ, fd) }
	io.writeF = func(fd uintptr) bool { return io.call(unix.SYS_WRITE, fd) }
	return io
}

// tunWriters serves concurrent writers (one per link reader).
var tunWriters = sync.Pool{New: func() any { return newTunIO() }}

// call makes one read or write; false means "wait for the poller".
func (io *tunIO) call(trap, fd uintptr) bool {
	for {
		n, _, errno := unix.RawSyscall(trap, fd, uintptr(unsafe.Pointer(unsafe.SliceData(io.buf))), uintptr(len(io.buf)))
		switch errno {
		case 0:
			io.n, io.errno = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			io.n, io.errno = 0, errno
			return true
		}
	}
}
