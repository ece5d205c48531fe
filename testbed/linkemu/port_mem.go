package linkemu

import (
	"net"
	"sync"
)

// MemPort is an in-memory Port for tests without root: frames written to one
// end of a MemPipe are read from the other. A full pipe drops the frame, like
// a NIC ring.
type MemPort struct {
	rx   <-chan []byte
	tx   chan<- []byte
	done chan struct{}
	peer *MemPort
	once sync.Once
}

// MemPipe returns two connected ports, each buffering up to depth frames.
func MemPipe(depth int) (*MemPort, *MemPort) {
	ab, ba := make(chan []byte, depth), make(chan []byte, depth)
	a := &MemPort{rx: ba, tx: ab, done: make(chan struct{})}
	b := &MemPort{rx: ab, tx: ba, done: make(chan struct{})}
	a.peer, b.peer = b, a
	return a, b
}

// ReadFrame returns the next frame written to the other end.
func (p *MemPort) ReadFrame(buf []byte) (int, error) {
	select {
	case f := <-p.rx:
		return copy(buf, f), nil
	case <-p.done:
		return 0, net.ErrClosed
	}
}

// WriteFrame copies frame to the other end, or drops it if that end's
// buffer is full or closed.
func (p *MemPort) WriteFrame(frame []byte) error {
	select {
	case <-p.done:
		return net.ErrClosed
	case <-p.peer.done:
		return nil
	case p.tx <- append([]byte(nil), frame...):
	default:
	}
	return nil
}

// Close unblocks ReadFrame. Idempotent.
func (p *MemPort) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}
