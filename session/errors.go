package session

import "strconv"

// Error is why a message was refused or a packet could not be sealed. Like
// wire.Error it is a small integer: it converts to error without
// allocating and indexes per-reason counter arrays of length NumErrors.
type Error uint8

// The reasons. Receive returns the first one that applies; every one of
// them means "drop the packet and count it", never "answer".
const (
	ErrMalformed      Error = iota + 1 // framing refused by wire.DecodeV2
	ErrMac1                            // mac1 wrong: the sender does not know our public key
	ErrRateLimited                     // under load, the source's handshake budget is spent
	ErrHandshake                       // a handshake message does not verify
	ErrUnknownKey                      // the initiator's key is not on the allowed list
	ErrStaleHandshake                  // initiation timestamp not newer than the last one (replay), or too soon after it
	ErrCrossed                         // both sides initiated; ours wins, theirs is dropped
	ErrUnknownIndex                    // no session or handshake has this receiver index
	ErrCookie                          // a cookie reply does not open
	ErrExpired                         // the keypair is older than RejectAfterTime or past RejectAfterMessages
	ErrTag                             // transport message fails authentication
	ErrDuplicate                       // counter already accepted: a copy already delivered, or a replay
	ErrTooOld                          // counter behind the replay window
	ErrNoKeypair                       // Seal: no usable keypair yet; a handshake is wanted
	ErrExhausted                       // Seal: the keypair's counter is spent; a handshake is wanted
	ErrBuffer                          // Seal or a writer: the caller's buffer is too small
	ErrTableFull                       // the index table is full (bounded)
	ErrRemoved                         // WriteInitiation: the peer was removed (Node.RemovePeer)
	NumErrors                          // size for per-reason counter arrays
)

var errorText = [NumErrors]string{
	ErrMalformed:      "session: malformed message",
	ErrMac1:           "session: bad mac1",
	ErrRateLimited:    "session: handshake rate-limited under load",
	ErrHandshake:      "session: handshake does not verify",
	ErrUnknownKey:     "session: key not allowed",
	ErrStaleHandshake: "session: stale or replayed initiation",
	ErrCrossed:        "session: crossed initiation dropped",
	ErrUnknownIndex:   "session: unknown receiver index",
	ErrCookie:         "session: cookie reply does not open",
	ErrExpired:        "session: keypair expired",
	ErrTag:            "session: authentication failed",
	ErrDuplicate:      "session: duplicate counter",
	ErrTooOld:         "session: counter behind the replay window",
	ErrNoKeypair:      "session: no keypair",
	ErrExhausted:      "session: counter exhausted",
	ErrBuffer:         "session: buffer too small",
	ErrTableFull:      "session: index table full",
	ErrRemoved:        "session: peer removed",
}

// Error returns a short description prefixed with "session: ".
func (e Error) Error() string {
	if e < NumErrors && errorText[e] != "" {
		return errorText[e]
	}
	return "session: error(" + strconv.Itoa(int(e)) + ")"
}
