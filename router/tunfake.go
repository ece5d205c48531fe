package router

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// FakeTUNQueueLen is how many packets each direction of a FakeTUN buffers
// before it drops (and counts) further ones, like a full kernel queue.
const FakeTUNQueueLen = 1024

// FakeTUN is an in-memory Device for tests of the data path without root.
// Inject plays the kernel routing a packet into the TUN (Read returns it);
// Written yields what was written to it. Both copy, so callers may reuse
// their buffers at once. Close has the real TUN's semantics.
type FakeTUN struct {
	name  string
	index int
	mtu   int

	inbound chan []byte   // Inject → Read
	closed  chan struct{} // closed by Close; wakes Read

	mu       sync.Mutex
	written  chan []byte // Write → Written; guarded by mu for send and close
	isClosed bool        // guarded by mu

	injectDrops atomic.Uint64
	writeDrops  atomic.Uint64
}

var _ Device = (*FakeTUN)(nil)

// NewFakeTUN returns an open FakeTUN with the given name, index and MTU.
func NewFakeTUN(name string, index, mtu int) *FakeTUN {
	return &FakeTUN{
		name:    name,
		index:   index,
		mtu:     mtu,
		inbound: make(chan []byte, FakeTUNQueueLen),
		closed:  make(chan struct{}),
		written: make(chan []byte, FakeTUNQueueLen),
	}
}

// Name returns the name given to NewFakeTUN.
func (f *FakeTUN) Name() string { return f.name }

// Index returns the index given to NewFakeTUN.
func (f *FakeTUN) Index() int { return f.index }

// MTU returns the MTU given to NewFakeTUN.
func (f *FakeTUN) MTU() int { return f.mtu }

// Inject queues a copy of pkt for Read, as if the kernel routed it into the
// TUN. It reports false, and counts a drop, when the queue is full or the
// FakeTUN is closed.
func (f *FakeTUN) Inject(pkt []byte) bool {
	select {
	case <-f.closed:
		f.injectDrops.Add(1)
		return false
	default:
	}
	select {
	case f.inbound <- append([]byte(nil), pkt...):
		return true
	default:
		f.injectDrops.Add(1)
		return false
	}
}

// Read blocks until an injected packet is available, with the real TUN's
// results: ErrPacketTruncated for a packet longer than buf, net.ErrClosed
// after Close (packets still queued then are lost, as in the kernel).
func (f *FakeTUN) Read(buf []byte) (int, error) {
	select {
	case <-f.closed:
		return 0, net.ErrClosed
	default:
	}
	select {
	case pkt := <-f.inbound:
		n := copy(buf, pkt)
		if n < len(pkt) {
			return n, ErrPacketTruncated
		}
		return n, nil
	case <-f.closed:
		return 0, net.ErrClosed
	}
}

// Write queues a copy of pkt for Written. Like the kernel, it rejects an
// empty packet or one that is neither IPv4 nor IPv6, accepts any other, and
// drops (and counts) it when the queue is full. It returns net.ErrClosed
// after Close.
func (f *FakeTUN) Write(pkt []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.isClosed {
		return 0, net.ErrClosed
	}
	if len(pkt) == 0 || (pkt[0]>>4 != 4 && pkt[0]>>4 != 6) {
		return 0, fmt.Errorf("write to TUN %s: %w: the packet is empty or neither IPv4 nor IPv6", f.name, unix.EINVAL)
	}
	select {
	case f.written <- append([]byte(nil), pkt...):
	default:
		f.writeDrops.Add(1)
	}
	return len(pkt), nil
}

// Written yields copies of the packets written to the FakeTUN, in order. It
// is closed by Close once the packets written before are drained.
func (f *FakeTUN) Written() <-chan []byte { return f.written }

// Drops returns how many packets Inject dropped (queue full or closed) and
// how many Write dropped (queue full).
func (f *FakeTUN) Drops() (injected, written uint64) {
	return f.injectDrops.Load(), f.writeDrops.Load()
}

// Close unblocks a pending Read with net.ErrClosed and closes Written.
// Close is idempotent.
func (f *FakeTUN) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.isClosed {
		return nil
	}
	f.isClosed = true
	close(f.closed)
	close(f.written)
	return nil
}
