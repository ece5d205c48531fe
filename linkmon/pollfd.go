package linkmon

import (
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// pollFD is a non-blocking socket registered with Go's poller: reads park in
// the netpoller and Close wakes them. Socket and UDPSocket share it.
type pollFD struct {
	file      *os.File
	conn      syscall.RawConn
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// newPollFD takes ownership of the non-blocking socket fd (closing it on
// failure); what names it in errors.
func newPollFD(fd int, what string) (*pollFD, error) {
	file := os.NewFile(uintptr(fd), "linkmon:"+what)
	conn, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("raw access to socket on %s: %w", what, err)
	}
	return &pollFD{file: file, conn: conn}, nil
}

// setReadDeadline sets the deadline of reads; zero means none.
func (p *pollFD) setReadDeadline(t time.Time) error { return p.file.SetReadDeadline(t) }

// close closes the socket once; later calls return the first result.
func (p *pollFD) close(name string) error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		if err := p.file.Close(); err != nil {
			p.closeErr = fmt.Errorf("close socket on %s: %w", name, err)
		}
	})
	return p.closeErr
}

// ioError names the socket in err, and turns the poller's "file closed"
// into net.ErrClosed, the error readers watch for.
func (p *pollFD) ioError(name, op string, err error) error {
	if p.closed.Load() {
		return fmt.Errorf("%s on %s: %w", op, name, net.ErrClosed)
	}
	return fmt.Errorf("%s on %s: %w", op, name, err)
}
