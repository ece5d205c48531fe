package dedup

import "strconv"

// Verdict is what Check decides about one copy.
type Verdict uint8

// The verdicts. Only Duplicate means drop.
const (
	Accepted     Verdict = iota // first copy: deliver it
	Duplicate                   // a copy of an ID accepted less than Expiry ago: drop it
	AcceptedLate                // accepted, but it looks like a late copy: deliver, and count it
)

// String returns "accepted", "duplicate", "accepted-late", or "verdict(N)".
func (v Verdict) String() string {
	switch v {
	case Accepted:
		return "accepted"
	case Duplicate:
		return "duplicate"
	case AcceptedLate:
		return "accepted-late"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}
