package aggregator

import (
	"sync/atomic"

	"github.com/polylink/polylink/wire"
)

// counters are the engine-wide tallies a user asks about; per-connection
// ones live on conn.
type counters struct {
	txPackets         atomic.Uint64 // packets handed to Send and sent into a bundle
	txCopies          atomic.Uint64 // copies queued onto connections
	txCopiesBlind     atomic.Uint64 // of those, sent while no path to the host was up
	rxPackets         atomic.Uint64 // bundle packets read from links
	delivered         atomic.Uint64 // first copies handed to Deliver
	duplicatesDropped atomic.Uint64
	lateDuplicates    atomic.Uint64
	malformed         [wire.NumErrors]atomic.Uint64
	noHost            atomic.Uint64 // Send to a host the engine does not know
	unknownHost       atomic.Uint64 // packets from a host not accepted
	ownPackets        atomic.Uint64 // packets carrying our own virtual address
	misdirected       atomic.Uint64 // packets naming another of our NICs as destination
	unprovenDropped   atomic.Uint64 // data from a NIC that never answered our probes, of an established host
	queueDrops        atomic.Uint64
	sendErrors        atomic.Uint64
	readErrors        atomic.Uint64
	oversize          atomic.Uint64
	hostsEvicted      atomic.Uint64
	peerRestarts      atomic.Uint64 // epochs changed: duplicate windows reset
	probesSent        atomic.Uint64
	unmatchedReplies  atomic.Uint64 // probe replies that answer no probe of ours (late, duplicated or forged)
	answersHeld       atomic.Uint64 // probes left unanswered while our challenge on that path is in flight
	logDropped        atomic.Uint64 // operator events lost because the log writer fell behind
	ceMarked          atomic.Uint64 // delivered inner packets marked CE from their outer header (decapECN)
	ceDropped         atomic.Uint64 // first copies dropped: outer CE, inner not ECN-capable (decapECN)
	pol               policyCounters
}

func (c *counters) malformedTotal() uint64 {
	var n uint64
	for i := range c.malformed {
		n += c.malformed[i].Load()
	}
	return n
}
