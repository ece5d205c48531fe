package wire

import "strconv"

// Error is a reason a packet is malformed or a header cannot be encoded.
// It implements error; being a small integer, it converts to error without
// allocating, and it indexes per-reason counter arrays of length NumErrors.
type Error uint8

// The reasons, in the order Decode checks them.
const (
	ErrShort   Error = iota + 1 // shorter than the header (or the buffer is too small)
	ErrMagic                    // magic is not 0xB7 (foreign packet)
	ErrVersion                  // version is not 1
	ErrKind                     // kind unknown or reserved (5..15)
	ErrState                    // state > 2
	ErrFlags                    // F bit does not match the kind (F must be 1 for data, 0 otherwise)
	ErrLength                   // body length does not add up
	ErrID                       // ID out of range (encode only)
	ErrHost                     // host address not IPv4 (encode only)
	NumErrors                   // size for per-reason counter arrays
)

var errorText = [NumErrors]string{
	ErrShort:   "wire: too short",
	ErrMagic:   "wire: bad magic",
	ErrVersion: "wire: unsupported version",
	ErrKind:    "wire: unknown kind",
	ErrState:   "wire: bad state",
	ErrFlags:   "wire: forward flag does not match kind",
	ErrLength:  "wire: bad length",
	ErrID:      "wire: ID out of range",
	ErrHost:    "wire: host is not IPv4",
}

// Error returns a short description prefixed with "wire: ".
func (e Error) Error() string {
	if e < NumErrors && errorText[e] != "" {
		return errorText[e]
	}
	return "wire: error(" + strconv.Itoa(int(e)) + ")"
}
