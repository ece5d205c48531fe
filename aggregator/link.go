package aggregator

import "net/netip"

// Link is one local NIC as the engine uses it: a socket that carries bundle
// packets (header and body, without the outer IPv4 header) to and from
// underlay addresses. linkmon's sockets satisfy it through a thin adapter in
// cmd; FakeNetwork provides in-memory ones.
//
// ReadFrom is called from one goroutine; WriteTo from the link's writer
// goroutine; TryWriteTo (if the link has it) from any goroutine at once, so
// it must be safe for concurrent use. After the link is closed, ReadFrom
// returns an error that matches net.ErrClosed, which ends the engine's
// reader.
type Link interface {
	// Index is the NIC's interface index; it names the link on the wire.
	Index() int
	// Name is the NIC's name, for status and logs.
	Name() string
	// Addr is the underlay address packets leave from.
	Addr() netip.Addr
	// ReadFrom reads one packet into buf and returns the bundle packet
	// (a subslice of buf) and the outer source address.
	ReadFrom(buf []byte) (pkt []byte, src netip.Addr, err error)
	// WriteTo sends one bundle packet to an underlay address.
	WriteTo(pkt []byte, dst netip.Addr) error
}

// TryWriter is implemented by links that can attempt a write without
// blocking. The engine then sends from the calling goroutine while the
// link's queue is empty, saving a goroutine hand-off (two futex calls and a
// context switch) per copy, and queues only when the socket is full.
type TryWriter interface {
	// TryWriteTo sends pkt to dst if it can do so at once; sent is false
	// (and err nil) when the write would block.
	TryWriteTo(pkt []byte, dst netip.Addr) (sent bool, err error)
}

// BatchReader is implemented by links that can read several packets per
// system call. The engine's reader then takes whatever a burst left queued
// in one call instead of one call (and one empty read) per packet.
type BatchReader interface {
	// ReadBatch reads up to len(bufs) packets into bufs and returns how
	// many; for i < n, pkts[i] is packet i's bundle bytes (a subslice of
	// bufs[i], nil if it was unusable: truncated, malformed outer header)
	// and srcs[i] its outer source address. It blocks until at least one
	// packet is there; after the link is closed it returns an error
	// matching net.ErrClosed.
	ReadBatch(bufs, pkts [][]byte, srcs []netip.Addr) (n int, err error)
}
