package router

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/internal/sysio"
)

// tunIO carries one read or write through the poller's RawConn; the TUN fd
// is non-blocking and sysio.Call makes the system call (why RawSyscall: see
// there). The method values are built once so a packet costs no closure
// allocation.
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
	n, errno, wait := sysio.Call(trap, fd, uintptr(unsafe.Pointer(unsafe.SliceData(io.buf))), uintptr(len(io.buf)), 0, 0, 0)
	if wait {
		return false
	}
	io.n, io.errno = n, errno
	return true
}
