package stream

import (
	"net"
	"os"
	"sync"
	"time"
)

// pipe is an in-memory datagram path from a Sender to a Receiver. drop, if
// set, decides per datagram (by sequence number) whether the path loses it;
// dup repeats it.
type pipe struct {
	ch   chan []byte
	drop func(seq uint64) bool
	dup  func(seq uint64) bool

	once    sync.Once
	expired chan struct{} // closed once a past read deadline is set
}

func newPipe() *pipe {
	return &pipe{ch: make(chan []byte, 1<<16), expired: make(chan struct{})}
}

func (p *pipe) Write(b []byte) (int, error) {
	h, _ := parseHeader(b)
	if p.drop != nil && p.drop(h.seq) {
		return len(b), nil
	}
	copies := 1
	if p.dup != nil && p.dup(h.seq) {
		copies = 2
	}
	for range copies {
		select {
		case p.ch <- append([]byte(nil), b...):
		default: // a full queue loses the datagram, like a socket buffer
		}
	}
	return len(b), nil
}

func (p *pipe) Read(b []byte) (int, error) {
	select {
	case d := <-p.ch:
		return copy(b, d), nil
	case <-p.expired:
		return 0, os.ErrDeadlineExceeded
	}
}

func (p *pipe) SetReadDeadline(t time.Time) error {
	if !t.After(time.Now()) {
		p.once.Do(func() { close(p.expired) })
	}
	return nil
}

// recorder is a Writer that keeps what it was given and when.
type recorder struct {
	at   []int64
	pkts [][]byte
	fail func(n int) error // error for the n-th write (0-based), if any
}

func (r *recorder) Write(b []byte) (int, error) {
	n := len(r.pkts)
	r.at = append(r.at, Now())
	r.pkts = append(r.pkts, append([]byte(nil), b...))
	if r.fail != nil {
		if err := r.fail(n); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// closedWriter fails every write as a closed socket does.
type closedWriter struct{ writes int }

func (w *closedWriter) Write([]byte) (int, error) {
	w.writes++
	return 0, net.ErrClosed
}
