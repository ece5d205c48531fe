package sysio

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestCall drives Call on a non-blocking pipe: an empty pipe asks to wait,
// a write and a read move the bytes, a closed descriptor reports its errno.
func TestCall(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w := uintptr(p[0]), uintptr(p[1])
	defer unix.Close(p[1])

	buf := make([]byte, 16)
	read := func() (int, unix.Errno, bool) {
		return Call(unix.SYS_READ, r, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
	}
	if n, errno, wait := read(); !wait || n != 0 || errno != 0 {
		t.Fatalf("read of an empty pipe = %d, %v, wait %v; want wait", n, errno, wait)
	}
	msg := []byte("polylink")
	if n, errno, wait := Call(unix.SYS_WRITE, w, uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg)), 0, 0, 0); n != len(msg) || errno != 0 || wait {
		t.Fatalf("write = %d, %v, wait %v; want %d bytes", n, errno, wait, len(msg))
	}
	if n, errno, wait := read(); n != len(msg) || errno != 0 || wait || string(buf[:n]) != string(msg) {
		t.Fatalf("read = %d %q, %v, wait %v; want %q", n, buf[:max(n, 0)], errno, wait, msg)
	}
	unix.Close(p[0])
	if n, errno, wait := read(); n != 0 || errno != unix.EBADF || wait {
		t.Fatalf("read of a closed descriptor = %d, %v, wait %v; want 0, EBADF", n, errno, wait)
	}
}
