package stream

import (
	"encoding/binary"
	"errors"
)

// HeaderSize is the length of the header every stream packet starts with:
//
//	0       4          8                16               24
//	| magic | stream id | sequence number | send time (ns) | padding to size …
//
// all big-endian; the send time is CLOCK_MONOTONIC when the packet was handed
// to the socket.
const HeaderSize = 24

// magic marks a polylink testbed stream packet ("PLst").
const magic = 0x504c7374

// header is the decoded form of a packet's first HeaderSize bytes.
type header struct {
	streamID uint32
	seq      uint64
	sentNS   int64
}

var errNotStream = errors.New("not a stream packet")

// putHeader writes h to the front of b, which holds at least HeaderSize bytes.
func putHeader(b []byte, h header) {
	binary.BigEndian.PutUint32(b[0:4], magic)
	binary.BigEndian.PutUint32(b[4:8], h.streamID)
	binary.BigEndian.PutUint64(b[8:16], h.seq)
	binary.BigEndian.PutUint64(b[16:24], uint64(h.sentNS))
}

// parseHeader decodes the header at the front of b.
func parseHeader(b []byte) (header, error) {
	if len(b) < HeaderSize || binary.BigEndian.Uint32(b[0:4]) != magic {
		return header{}, errNotStream
	}
	return header{
		streamID: binary.BigEndian.Uint32(b[4:8]),
		seq:      binary.BigEndian.Uint64(b[8:16]),
		sentNS:   int64(binary.BigEndian.Uint64(b[16:24])),
	}, nil
}
