// Package wire is polylink's on-wire format, version 1: the 16-byte bundle
// header that follows the outer IPv4 header of every IP-in-IP packet, and the
// bodies of control messages (probe, probe reply).
//
// All fields are big-endian:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|St |F|          ID             |     Magic     |  Ver  | Kind  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|              Host: sender's virtual IPv4 address              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|              Src index: sender's NIC ifindex                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|              Dst index: receiver's NIC ifindex, 0 if unknown  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
//	St     2 bits   sender's handshake state of this connection, 0..2
//	F      1 bit    forward: the body is one IPv4 packet read from a TUN
//	ID     13 bits  bundle sequence number, mod 8192
//	Magic  8 bits   0xB7; anything else is a foreign packet
//	Ver    4 bits   1
//	Kind   4 bits   0 data (F=1), 1 probe, 2 probe reply, 3 reply-probe,
//	                4 NIC info, 5..15 reserved
//
// A probe and a probe reply carry a 16-byte body:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 SendTime: sender's monotonic                  |
//	|                       clock, ns (64 bits)                     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Seq: probe sequence                    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Epoch: random per daemon start             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// A reply-probe (kind 3) carries two such bodies, 32 bytes: a probe reply,
// then a probe of the sender's own.
//
// A NIC info message (kind 4) carries a 4-byte body: flags of the sender's
// NIC (the header's Src index); bit 0 set: the NIC is metered, keep bulk
// traffic off it. Unknown bits are ignored.
//
// Everything here works on caller-owned buffers and allocates nothing.
// Malformed input is reported as an [Error], a small integer the caller can
// use to index a per-reason counter array of length [NumErrors].
package wire
