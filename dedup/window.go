package dedup

import "time"

// Window and timing constants.
const (
	WindowSize = 8192                   // one slot per 13-bit ID
	Expiry     = 500 * time.Millisecond // a copy within this of the first is a duplicate

	// LateHorizon is how long after its first copy a copy can still be
	// recognised as a late duplicate; later ones are plain Accepted.
	LateHorizon = 5 * time.Second
)

const (
	idMask   = WindowSize - 1
	halfIDs  = WindowSize / 2 // serial-number comparisons look half the ID space each way
	bitWords = WindowSize / 64
)

// Window is one sending host's filter. The zero value is ready to use. Not
// safe for concurrent use.
//
// A Window takes about 65 KiB: an int64 nanosecond stamp per ID plus a
// bitmap of the IDs ever accepted. Full-width stamps keep the rules exact to
// the nanosecond and never need rebasing; halving them to 32 bits would
// cost either resolution or a periodic pass over all slots. The bitmap is
// what makes an unused slot distinct from one stamped at time 0, and lets
// Reset clear 1 KiB instead of 64.
type Window struct {
	stamps [WindowSize]int64 // when each ID was last accepted; meaningful where used is set
	used   [bitWords]uint64  // bit id set: stamps[id] holds a real acceptance time

	// The ID furthest ahead (mod WindowSize) among first copies accepted,
	// to tell a late copy (behind it) from a new packet.
	newest    uint16
	newestAt  int64 // when newest was accepted
	hasNewest bool
}

// Check decides whether the copy of packet id arriving at now is the first
// and records it if so. now is the caller's monotonic clock in ns; id is
// taken mod WindowSize.
//
// A copy of an ID accepted less than Expiry ago is a Duplicate, unless the
// ID is ahead of the newest accepted one (by 1..WindowSize/2-1): then the
// sender has wrapped the ID space within Expiry (more than 16,384 packet/s)
// and this is a new packet. A duplicate can only look ahead once WindowSize/2
// newer IDs were accepted after its first copy, which within Expiry takes
// more than 8,192 packet/s; so below that rate the rule is the seed's exactly,
// and above it the limit is no longer the rate but rate × path skew, which
// must stay under WindowSize/2 packets (at 50,000 packet/s, 82 ms of skew).
// At Expiry or later the ID is accepted again. An accepted copy is AcceptedLate, rather
// than Accepted, when all of these hold:
//
//   - its ID was accepted before, at most LateHorizon ago;
//   - its ID is behind the newest accepted one by 1..WindowSize/2-1;
//   - its slot was stamped after the slot half the ID space behind it, so
//     the earlier acceptance belongs to the sender's current pass over the
//     IDs, not to the previous one.
//
// The last condition keeps a reordered new packet (its first copy lost on
// the fast path, delivered by the slow one) from counting as late once the
// rate exceeds WindowSize/LateHorizon (1,638 packet/s), where the slot's
// previous use falls inside LateHorizon. What remains misread: a reordered
// new packet whose half-space neighbour was lost on every path, and near
// the 16,384 packet/s limit, where a pass over the IDs takes about Expiry.
// Late copies skewed by WindowSize/2 packets or more, or by more than
// LateHorizon, go uncounted. The verdict only feeds a counter: both
// AcceptedLate and Accepted mean deliver.
func (w *Window) Check(id uint16, now int64) Verdict {
	id &= idMask
	if w.isUsed(id) {
		age := now - w.stamps[id]
		if age < int64(Expiry) && !(w.hasNewest && isAhead(id, w.newest)) {
			return Duplicate
		}
		if age <= int64(LateHorizon) && w.looksLate(id) {
			w.stamps[id] = now
			return AcceptedLate
		}
	}
	w.used[id/64] |= 1 << (id % 64)
	w.stamps[id] = now
	w.advanceNewest(id, now)
	return Accepted
}

// Reset forgets every ID, as if w were new: the sender restarted (new
// epoch), so its fresh IDs must not match the old run's.
func (w *Window) Reset() {
	w.used = [bitWords]uint64{}
	w.newest, w.newestAt, w.hasNewest = 0, 0, false
}

func (w *Window) isUsed(id uint16) bool {
	return w.used[id/64]&(1<<(id%64)) != 0
}

// looksLate reports whether id, accepted before, is behind the newest ID and
// was accepted in the sender's current pass over the ID space.
func (w *Window) looksLate(id uint16) bool {
	if !w.hasNewest || !isAhead(w.newest, id) {
		return false
	}
	opposite := (id + halfIDs) & idMask
	return !w.isUsed(opposite) || w.stamps[id] > w.stamps[opposite]
}

// advanceNewest moves newest to id if id is ahead of it. A newest older than
// LateHorizon is replaced by any ID, so a jump of half the ID space or more
// (a long outage on every path) cannot pin it.
func (w *Window) advanceNewest(id uint16, now int64) {
	if !w.hasNewest || isAhead(id, w.newest) || now-w.newestAt > int64(LateHorizon) {
		w.newest, w.newestAt, w.hasNewest = id, now, true
	}
}

// isAhead reports whether a is 1..WindowSize/2-1 IDs after b, mod WindowSize.
func isAhead(a, b uint16) bool {
	d := (a - b) & idMask
	return d != 0 && d < halfIDs
}
