package aggregator

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/polylink/polylink/dedup"
	"github.com/polylink/polylink/wire"
)

// readBatch is how many packets a batch read takes at most, and
// readBatchBuf each one's buffer: a jumbo frame's payload fits.
const (
	readBatch    = 16
	readBatchBuf = 9216
)

// readLoop is one link's reader: it runs until the Link is closed.
func (e *Engine) readLoop(ll *localLink, l Link) {
	defer e.wg.Done()
	br, ok := l.(BatchReader)
	if !ok {
		br = oneAtATime{l}
	}
	bufs := make([][]byte, readBatch)
	for i := range bufs {
		bufs[i] = make([]byte, readBatchBuf)
	}
	pkts := make([][]byte, readBatch)
	srcs := make([]netip.AddrPort, readBatch)
	tos := make([]uint8, readBatch)
	failures := 0
	for {
		n, err := br.ReadBatch(bufs, pkts, srcs, tos)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			e.stats.readErrors.Add(1)
			// One bad packet costs nothing; a persistent error must not
			// spin a core.
			if failures++; failures > 3 {
				select {
				case <-e.done:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			continue
		}
		failures = 0
		for i := range n {
			if pkts[i] == nil {
				e.stats.readErrors.Add(1)
				continue
			}
			e.handle(ll, srcs[i], pkts[i], tos[i])
		}
	}
}

// oneAtATime reads a Link that has no batch reads one packet per call.
type oneAtATime struct{ l Link }

// ReadBatch implements BatchReader with one ReadFrom, which tells no
// outer TOS.
func (o oneAtATime) ReadBatch(bufs, pkts [][]byte, srcs []netip.AddrPort, tos []uint8) (int, error) {
	pkt, src, err := o.l.ReadFrom(bufs[0])
	if err != nil {
		return 0, err
	}
	pkts[0], srcs[0], tos[0] = pkt, src, 0
	return 1, nil
}

// handle runs one received bundle packet through decode, the connection's
// handshake and, for data, the duplicate filter. What it sends back is
// bounded by what it received: at most one packet per packet, on the
// connection the packet came from (see handshake.go). outerTOS is the
// outer header's TOS, whose CE mark decapECN carries into a delivered
// inner packet.
func (e *Engine) handle(ll *localLink, src netip.AddrPort, pkt []byte, outerTOS uint8) {
	e.stats.rxPackets.Add(1)
	if KindOf(src) != ll.kind {
		// A UDP datagram from port 0 would name a raw IP-in-IP endpoint:
		// it could join a raw NIC's identity, or make a connection between
		// a link and an endpoint of another kind. No NAT maps to port 0.
		e.stats.misdirected.Add(1)
		return
	}
	if e.keyed != nil {
		e.handleKeyed(ll, src, pkt, outerTOS)
		return
	}
	var h wire.Header
	body, err := wire.Decode(pkt, &h)
	if err != nil {
		if we, ok := err.(wire.Error); ok && int(we) < len(e.stats.malformed) {
			e.stats.malformed[we].Add(1)
		} else {
			e.stats.malformed[0].Add(1)
		}
		return
	}
	if h.Host == e.cfg.VIP {
		e.stats.ownPackets.Add(1)
		return
	}
	if h.DstIndex != 0 && h.DstIndex != uint32(ll.index) {
		// Meant for another NIC of ours (or forged): taking it would
		// credit the wrong path.
		e.stats.misdirected.Add(1)
		return
	}
	// probe is a probe to answer, reply an answer to one of ours; a
	// reply-probe carries both. Decode has checked the body lengths.
	var probe, reply wire.Probe
	switch h.Kind {
	case wire.KindProbe:
		_ = wire.DecodeProbe(body, &probe)
	case wire.KindProbeReply:
		_ = wire.DecodeProbe(body, &reply)
	case wire.KindReplyProbe:
		_ = wire.DecodeReplyProbe(body, &reply, &probe)
	}
	now := e.now()
	e.mu.RLock()
	c := e.connLocked(ll, src, &h, now)
	if c == nil {
		e.mu.RUnlock()
		return
	}
	c.onReceive(now, len(pkt))
	c.remote.lastRx.Store(now)
	if c.remote.proven.Load() {
		// Only traffic from a NIC that answered our probes keeps its host
		// alive: forged packets cannot hold a departed host in the table.
		c.host.lastRx.Store(now)
	}
	if h.Kind == wire.KindData {
		deliver := e.acceptsData(c) && e.firstCopy(c, &h, now)
		e.challenge(c, now) // data on a path we have not proven: prove it now
		// Deliver may Send (a router relays), which read-locks again: a
		// recursive read lock can deadlock behind a waiting writer.
		e.mu.RUnlock()
		if deliver && e.decapECN(body, outerTOS) {
			e.cfg.Deliver(h.Host, body)
		}
		return
	}
	if h.Kind == wire.KindNICInfo {
		e.onNICInfo(c, body, now)
		e.mu.RUnlock()
		return
	}
	proves := h.Kind != wire.KindProbe && e.matchReply(c, &reply, now)
	if h.Kind == wire.KindProbeReply {
		if !proves {
			e.challenge(c, now)
		}
	} else {
		// The answer goes out before the proof is recorded, so data that
		// the proof lets onto this path queues behind it.
		e.answerProbe(c, &probe, proves, now)
	}
	if proves {
		e.onProven(c, reply.Epoch, now)
	}
	e.mu.RUnlock()
}

// acceptsData reports whether data from c may reach the duplicate filter:
// once its host has proven paths, only NICs that answered our probes may
// deliver, so a forger cannot fill the ID window with junk. Before that
// (first contact) any path may. Called with e.mu read-locked.
func (e *Engine) acceptsData(c *conn) bool {
	if c.remote.proven.Load() || !c.host.established.Load() {
		return true
	}
	e.stats.unprovenDropped.Add(1)
	return false
}

// firstCopy runs a data packet through the duplicate filter and counts it;
// it reports whether this copy is the one to deliver.
func (e *Engine) firstCopy(c *conn, h *wire.Header, now int64) bool {
	switch e.dedup.Check(h.Host, h.ID, now) {
	case dedup.Duplicate:
		e.stats.duplicatesDropped.Add(1)
		c.host.dups.Add(1)
		return false
	case dedup.AcceptedLate:
		e.stats.lateDuplicates.Add(1)
		c.host.lateDups.Add(1)
	default:
		c.firstWins.Add(1)
	}
	c.host.rxData.Add(1)
	e.stats.delivered.Add(1)
	return true
}
