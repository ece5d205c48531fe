package classify

import (
	"fmt"
	"strconv"
	"strings"
)

// Class is a packet's traffic class.
type Class uint8

const (
	// RealTime traffic is copied onto every working path; the far end keeps
	// the first copy. The zero value: what the seed did with every packet.
	RealTime Class = 0
	// Bulk traffic goes on one path at a time and is never copied.
	Bulk Class = 1
)

// NumClasses is the number of classes, for arrays indexed by Class.
const NumClasses = 2

// String names the class as rules, status and the config file spell it.
func (c Class) String() string {
	switch c {
	case RealTime:
		return "realtime"
	case Bulk:
		return "bulk"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// MarshalText renders the class by name (status --json).
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a class by name, as MarshalText writes it.
func (c *Class) UnmarshalText(b []byte) error {
	v, err := ParseClass(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ParseClass reads "realtime" or "bulk".
func ParseClass(s string) (Class, error) {
	switch strings.ToLower(s) {
	case "realtime", "real-time", "rt":
		return RealTime, nil
	case "bulk":
		return Bulk, nil
	}
	return 0, fmt.Errorf("class %q: want realtime or bulk", s)
}

// DSCP code points by name (RFC 2474, 2597, 3246, 5865, 8622).
const (
	DSCPCS0  = 0
	DSCPLE   = 1 // lower effort
	DSCPCS1  = 8
	DSCPAF41 = 34
	DSCPAF42 = 36
	DSCPAF43 = 38
	DSCPCS4  = 32
	DSCPCS5  = 40
	DSCPVA   = 44 // voice admit
	DSCPEF   = 46 // expedited forwarding
)

// parseDSCP reads a DSCP name (ef, va, le, csN, afXY) or a number 0–63.
func parseDSCP(s string) (uint8, bool) {
	s = strings.ToLower(s)
	switch s {
	case "ef":
		return DSCPEF, true
	case "va":
		return DSCPVA, true
	case "le":
		return DSCPLE, true
	case "be", "df":
		return DSCPCS0, true
	}
	if len(s) == 3 && s[:2] == "cs" && s[2] >= '0' && s[2] <= '7' {
		return (s[2] - '0') * 8, true
	}
	if len(s) == 4 && s[:2] == "af" && s[2] >= '1' && s[2] <= '4' && s[3] >= '1' && s[3] <= '3' {
		return (s[2]-'0')*8 + (s[3]-'0')*2, true
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n > 63 {
		return 0, false
	}
	return uint8(n), true
}

// dscpName renders a code point by name where it has one.
func dscpName(d uint8) string {
	switch {
	case d == DSCPEF:
		return "ef"
	case d == DSCPVA:
		return "va"
	case d == DSCPLE:
		return "le"
	case d%8 == 0:
		return "cs" + strconv.Itoa(int(d/8))
	case d >= 10 && d <= 38 && d%2 == 0 && d%8 != 0 && (d%8)/2 <= 3:
		return "af" + strconv.Itoa(int(d/8)) + strconv.Itoa(int(d%8/2))
	}
	return "dscp=" + strconv.Itoa(int(d))
}
