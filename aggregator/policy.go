package aggregator

import (
	"path"
	"sync/atomic"
	"time"

	"github.com/polylink/polylink/classify"
)

// Redundancy where it counts (policy_send.go, policy_timer.go):
//
//	Send(host, pkt) ─▶ classify (rules, then defaults) ─▶ flow table (status)
//	  real-time ─▶ a copy on every working path, as the seed did
//	            ─▶ fewer paths up than the host had: one more copy on the
//	               best surviving path, SecondCopy later (delay queue)
//	  bulk      ─▶ one path: the best unmetered one by RTT and loss, kept
//	               until it fails or another is clearly better; metered
//	               paths only once no unmetered one has worked for
//	               MeteredGrace
//	  CopyAll   ─▶ everything as real-time (--redundancy all)
//
// A path is metered when our NIC matches a Metered glob or the far end
// said its NIC is metered (wire.KindNICInfo, sent from metered NICs about
// once a second), so traffic in both directions follows the same rule.

// Policy says which packets are copied where. The zero value is
// --redundancy realtime with the default classes and no metered NIC.
type Policy struct {
	// Classifier sorts packets into real-time and bulk; nil: the defaults.
	Classifier *classify.Classifier
	// CopyAll copies every packet, bulk too, onto every working path: the
	// seed's behaviour (--redundancy all).
	CopyAll bool
	// Metered are globs (path.Match) of local NIC names paid for per byte.
	Metered []string
	// MeteredGrace is how long bulk waits, while no unmetered path works,
	// before it takes a metered one (default 10 s; negative: at once). A
	// Wi-Fi drop-out shorter than this costs no LTE data and leaves the LTE
	// link to the real-time stream, which needs it then.
	MeteredGrace time.Duration
	// SecondCopy is the delay of the time-diverse second copy of real-time
	// packets while fewer paths are up than the host had; 0 chooses it from
	// the surviving path's measurements (secondCopyDelay), negative turns
	// second copies off.
	SecondCopy time.Duration
	// SecondCopyLossless sends second copies even over a surviving path
	// that has lost nothing (by default such a path gets none).
	SecondCopyLossless bool
	// FlowTableSize bounds the flow table status shows (default 1024).
	FlowTableSize int
	// MeteredBudget, if not 0, is how many bytes each metered NIC may send
	// (since start) before the engine warns: once at 80 %, once when it is
	// reached. A warning only: traffic goes on.
	MeteredBudget uint64
}

const (
	defaultMeteredGrace  = 10 * time.Second
	defaultFlowTableSize = 1024
	// peakHold is how long a host's highest count of working paths is
	// remembered: a path gone for longer is taken as gone for good, and
	// second copies stop.
	peakHold = 10 * time.Minute
	// nicInfoTTL is how long a far end's "metered" holds without being
	// repeated (it is repeated about once a second).
	nicInfoTTL = 3 * time.Second
	// A surviving path that queued under second copies gets none for
	// minQueueHold, doubled each time it queues again soon after, up to
	// maxQueueHold.
	minQueueHold = time.Second
	maxQueueHold = 10 * time.Second
	// secondCopyQueue bounds second copies waiting for their time.
	secondCopyQueue = 4096
)

func (p *Policy) setDefaults() {
	if p.MeteredGrace == 0 {
		p.MeteredGrace = defaultMeteredGrace
	} else if p.MeteredGrace < 0 {
		p.MeteredGrace = 0
	}
	if p.FlowTableSize <= 0 {
		p.FlowTableSize = defaultFlowTableSize
	}
	if p.Classifier == nil {
		p.Classifier = classify.New(nil)
	}
}

// Redundancy names the policy's mode as --redundancy spells it.
func (p *Policy) Redundancy() string {
	if p.CopyAll {
		return "all"
	}
	return "realtime"
}

// meteredName reports whether a local NIC name matches a Metered glob.
func (p *Policy) meteredName(name string) bool {
	for _, g := range p.Metered {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// Reasons second copies are held back while a path is down.
const (
	heldNot      = 0
	heldLossless = 1 // the surviving path lost nothing: no need
	heldQueueing = 2 // its RTT rose above its base: no room
)

// minLossForSecondCopy: a surviving path that lost fewer of its probes
// than this (round trips, since the daemon started) gets no second copies.
const minLossForSecondCopy = 0.002

// looksLossless says a surviving path gains nothing from second copies: it
// lost fewer than minLossForSecondCopy of its probes over its life and
// over the ring's last probes. The ring matters for a path that was clean
// for an hour and then turns lossy: its lifetime share would take minutes
// to pass the threshold, the ring's 64 probes see it within seconds.
func (v probeView) looksLossless() bool {
	return v.lifetimeLoss() < minLossForSecondCopy && v.loss < minLossForSecondCopy
}

// lifetimeLoss is the share of all probes sent that went unanswered: those
// pushed out of the ring unanswered and the ring's matured ones.
func (v probeView) lifetimeLoss() float64 {
	if v.sent == 0 {
		return 0
	}
	return (float64(v.lost) + v.loss*float64(min(v.sent, probeRingLen))) / float64(v.sent)
}

// classCount is traffic of one class on one path.
type classCount struct{ packets, bytes atomic.Uint64 }

// connPolicy is a connection's share of the policy: what it carried per
// class, and RTT figures the timer keeps for second copies.
type connPolicy struct {
	tx           [classify.NumClasses]classCount
	secondCopies atomic.Uint64
	// baseRTT is the lowest RTT sample of the last one to two
	// minRTTWindows: the path's own delay without the queue our traffic
	// builds on it. The timer keeps it from two windows' minima.
	baseRTT         atomic.Int64
	minCur, minPrev int64 // timer only
	windowAt        int64 // timer only: when minCur's window began
}

// minRTTWindow is how long a connection's minimum RTT sample counts: the
// baseline against which a queue building on it is seen.
const minRTTWindow = int64(10 * time.Second)

// noteRTT feeds the latest RTT sample to the base RTT. Timer only.
func (cp *connPolicy) noteRTT(last, now int64) {
	if last <= 0 {
		return
	}
	if now-cp.windowAt > minRTTWindow {
		cp.minPrev, cp.minCur, cp.windowAt = cp.minCur, 0, now
	}
	if cp.minCur == 0 || last < cp.minCur {
		cp.minCur = last
	}
	base := cp.minCur
	if cp.minPrev != 0 && cp.minPrev < base {
		base = cp.minPrev
	}
	cp.baseRTT.Store(base)
}

// hostPolicy is a host's share of the policy. Pointers are chosen by the
// timer (and by Send when the chosen path failed); counters are atomic.
type hostPolicy struct {
	bulk atomic.Pointer[conn] // the path bulk takes; nil: choose
	best atomic.Pointer[conn] // the best working path: second copies go here
	// secondDelay is the second copy's delay in ns; 0 = no second copies
	// now (all paths up, or the surviving one is queueing).
	secondDelay atomic.Int64
	held        atomic.Uint32 // why second copies are held back (heldNot: they are not)
	up, peak    atomic.Int32  // working paths now, and the most in peakHold
	peakAt      int64         // timer only
	// queueSamples counts RTT samples in a row that showed a queue on the
	// best path; queueHeldUntil holds second copies after it. Timer only.
	queueSamples   int
	queueHeldUntil int64
	queueHold      int64 // the last hold's length, ns
	// unmeteredAt is when an unmetered path last worked (engine clock);
	// bulk waits MeteredGrace after it before taking a metered path.
	unmeteredAt  atomic.Int64
	secondCopies atomic.Uint64
	bulkNoPath   atomic.Uint64
}

// policyCounters are the engine-wide tallies of the policy.
type policyCounters struct {
	tx             [classify.NumClasses]atomic.Uint64 // packets sent into a bundle, per class
	secondCopies   atomic.Uint64                      // second copies sent
	secondDropped  atomic.Uint64                      // second copies dropped: queue full, path gone
	bulkNoPath     atomic.Uint64                      // bulk packets with no path to take (none up, or only metered ones within the grace)
	nicInfo        atomic.Uint64                      // NIC info messages taken
	nicInfoIgnored atomic.Uint64                      // NIC info on a path we have not proven: ignored
}

// metered reports whether c costs per byte: our NIC is metered, or the far
// end said its NIC is (and said so within nicInfoTTL).
func (c *conn) metered(now int64) bool {
	return c.link.metered.Load() || now < c.remote.meteredUntil.Load()
}
