package aggregator

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
)

// Link is one socket of a local NIC as the engine uses it: it carries
// bundle packets (header and body, without the outer headers) to and from
// remote endpoints. A NIC has up to three: raw IP-in-IP (IPv4, an endpoint
// without a port), UDP over IPv4 and UDP over IPv6 (endpoints with the
// port). linkmon's sockets satisfy it through thin adapters in cmd;
// FakeNetwork provides in-memory ones.
//
// ReadFrom is called from one goroutine; WriteTo from the link's writer
// goroutine; TryWriteTo (if the link has it) from any goroutine at once, so
// it must be safe for concurrent use. After the link is closed, ReadFrom
// returns an error that matches net.ErrClosed, which ends the engine's
// reader.
type Link interface {
	// Index is the NIC's interface index; it names the NIC on the wire.
	Index() int
	// Name is the NIC's name, for status and logs.
	Name() string
	// Local is the underlay address packets leave from, with the UDP port
	// of a UDP link; port 0 marks a raw IP-in-IP link.
	Local() netip.AddrPort
	// ReadFrom reads one packet into buf and returns the bundle packet
	// (a subslice of buf) and the remote endpoint it came from (port 0 on
	// a raw link).
	ReadFrom(buf []byte) (pkt []byte, src netip.AddrPort, err error)
	// WriteTo sends one bundle packet to a remote endpoint of the link's
	// kind (see Kind), the outer IP header carrying the DSCP of tos: the
	// inner packet's for a data copy (Wi-Fi WMM and carrier QoS act on the
	// media's marking, which the sealed keyed bundle hides), 0 for probes
	// and handshakes.
	WriteTo(pkt []byte, dst netip.AddrPort, tos uint8) error
}

// TryWriter is implemented by links that can attempt a write without
// blocking. The engine then sends from the calling goroutine while the
// link's queue is empty, saving a goroutine hand-off (two futex calls and a
// context switch) per copy, and queues only when the socket is full.
type TryWriter interface {
	// TryWriteTo sends pkt to dst with tos (as WriteTo) if it can do so
	// at once; sent is false (and err nil) when the write would block.
	TryWriteTo(pkt []byte, dst netip.AddrPort, tos uint8) (sent bool, err error)
}

// BatchReader is implemented by links that can read several packets per
// system call. The engine's reader then takes whatever a burst left queued
// in one call instead of one call (and one empty read) per packet.
type BatchReader interface {
	// ReadBatch reads up to len(bufs) packets into bufs and returns how
	// many; for i < n, pkts[i] is packet i's bundle bytes (a subslice of
	// bufs[i], nil if it was unusable: truncated, malformed outer header),
	// srcs[i] the endpoint it came from and tos[i] its outer header's TOS
	// or traffic class (for the ECN bits; 0 if unknown). It blocks until
	// at least one packet is there; after the link is closed it returns an
	// error matching net.ErrClosed.
	ReadBatch(bufs, pkts [][]byte, srcs []netip.AddrPort, tos []uint8) (n int, err error)
}

// Kind is a link's encapsulation and address family. A connection joins a
// link and a remote endpoint of the same kind: a raw link never sends to a
// UDP endpoint, an IPv4 link never to an IPv6 one.
type Kind uint8

const (
	// KindIPIP is raw IP-in-IP over IPv4: endpoints without a port.
	KindIPIP Kind = iota
	// KindUDP4 is UDP over IPv4.
	KindUDP4
	// KindUDP6 is UDP over IPv6.
	KindUDP6
)

// KindOf is the kind of a link bound to, or of a remote endpoint at, ap.
func KindOf(ap netip.AddrPort) Kind {
	switch {
	case ap.Port() == 0:
		return KindIPIP
	case ap.Addr().Unmap().Is4():
		return KindUDP4
	}
	return KindUDP6
}

// Encap names the encapsulation as status shows it: "ipip" or "udp".
func (k Kind) Encap() string {
	if k == KindIPIP {
		return "ipip"
	}
	return "udp"
}

// Overhead is what the encapsulation adds to every inner packet besides
// the bundle header: the outer IP header, and the UDP header.
func (k Kind) Overhead() int {
	switch k {
	case KindUDP4:
		return 20 + 8
	case KindUDP6:
		return 40 + 8
	}
	return 20
}

// endpointString shows an endpoint as status and logs do: the address
// alone for raw IP-in-IP, address and port for UDP.
func endpointString(ap netip.AddrPort) string {
	if ap.Port() == 0 {
		return ap.Addr().String()
	}
	return ap.String()
}

// linkKey names a local link: its NIC and kind.
type linkKey struct {
	index int
	kind  Kind
}

func (ll *localLink) key() linkKey { return linkKey{ll.index, ll.kind} }

// isPeer reports whether ap is a configured peer endpoint. Called with
// e.mu held.
func (e *Engine) isPeer(ap netip.AddrPort) bool { return e.peers[ap] }

// String names the kind as status lists a NIC's links: "ipip", "udp4",
// "udp6".
func (k Kind) String() string {
	switch k {
	case KindUDP4:
		return "udp4"
	case KindUDP6:
		return "udp6"
	}
	return "ipip"
}

// localStatus lists the local NICs, one entry per NIC whatever links it
// has. Called with e.mu read-locked.
func (e *Engine) localStatus() []LocalStatus {
	byIndex := map[int]int{} // NIC index → position in out
	out := []LocalStatus{}
	for _, k := range slices.SortedFunc(maps.Keys(e.links), func(a, b linkKey) int {
		return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(a.kind, b.kind))
	}) {
		ll := e.links[k]
		pos, ok := byIndex[k.index]
		if !ok {
			pos = len(out)
			byIndex[k.index] = pos
			out = append(out, LocalStatus{Name: ll.name, Index: ll.index, Encaps: []string{}})
		}
		ls := &out[pos]
		local := ll.current().Local()
		switch {
		case k.kind == KindUDP6 && ls.Addr != "":
			ls.Addr6 = local.Addr().String()
		case ls.Addr == "":
			ls.Addr = local.Addr().String()
		}
		if local.Port() != 0 {
			ls.Port = int(local.Port())
		}
		ls.Encaps = append(ls.Encaps, k.kind.String())
		ls.QueueLen += len(ll.queue)
		ls.QueueCap += cap(ll.queue)
	}
	return out
}

// linkName is the name of the NIC with this index, "" if no link of it is
// in use. Called with e.mu held.
func (e *Engine) linkName(index int) string {
	for _, k := range []Kind{KindIPIP, KindUDP4, KindUDP6} {
		if ll := e.links[linkKey{index, k}]; ll != nil {
			return ll.name
		}
	}
	return ""
}
