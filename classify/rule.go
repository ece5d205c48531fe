package classify

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule assigns a class to the packets it matches. Every condition it has
// must hold; a rule with none matches every packet.
type Rule struct {
	Class Class
	// Proto is the IP protocol; 0 matches any.
	Proto uint8
	// PortLo..PortHi is a range the source or the destination port must
	// fall in; HasPort says it applies (and then only packets with ports
	// match).
	PortLo, PortHi uint16
	HasPort        bool
	// DSCP is a set of code points (bit d for code point d); 0 matches any.
	DSCP uint64
	// Prefix must contain the source or the destination; invalid matches any.
	Prefix netip.Prefix

	// the prefix as integers, set by ParseRule or Compile
	net, mask uint32
}

// ParseRule reads a rule: a class, then conditions, all separated by
// colons, e.g.
//
//	bulk:udp:443           a QUIC download (UDP to or from port 443) is bulk
//	realtime:tcp:22        interactive SSH is copied on every path
//	bulk:198.19.0.9        everything to or from one host is bulk
//	realtime:ef            EF-marked packets (the default already)
//	bulk:udp:5000-5099:cs1 a port range with a DSCP mark
//
// Conditions: a protocol (tcp, udp, icmp or proto=N); a port or range
// N[-M] (source or destination; TCP and UDP only); a DSCP (ef, va, le,
// csN, afXY or dscp=N); an IPv4 address or prefix (source or destination).
// Each kind at most once.
func ParseRule(s string) (Rule, error) {
	fields := strings.Split(strings.TrimSpace(s), ":")
	c, err := ParseClass(fields[0])
	if err != nil {
		return Rule{}, fmt.Errorf("rule %q: %w", s, err)
	}
	r := Rule{Class: c}
	var seen [4]bool // proto, port, dscp, prefix
	once := func(k int, what string) error {
		if seen[k] {
			return fmt.Errorf("rule %q: %s given twice", s, what)
		}
		seen[k] = true
		return nil
	}
	for _, f := range fields[1:] {
		f = strings.ToLower(strings.TrimSpace(f))
		switch {
		case f == "tcp" || f == "udp" || f == "icmp" || strings.HasPrefix(f, "proto="):
			if err := once(0, "a protocol"); err != nil {
				return Rule{}, err
			}
			r.Proto = map[string]uint8{"tcp": ProtoTCP, "udp": ProtoUDP, "icmp": ProtoICMP}[f]
			if r.Proto == 0 {
				n, err := strconv.ParseUint(strings.TrimPrefix(f, "proto="), 10, 8)
				if err != nil || n == 0 {
					return Rule{}, fmt.Errorf("rule %q: %q: want a protocol number 1-255", s, f)
				}
				r.Proto = uint8(n)
			}
		case f != "" && f[0] >= '0' && f[0] <= '9' && strings.Contains(f, "."):
			if err := once(3, "an address"); err != nil {
				return Rule{}, err
			}
			p, err := parsePrefix(f)
			if err != nil {
				return Rule{}, fmt.Errorf("rule %q: %q: want an IPv4 address or prefix, e.g. 198.19.0.0/24", s, f)
			}
			r.Prefix = p
		case f != "" && f[0] >= '0' && f[0] <= '9':
			if err := once(1, "a port"); err != nil {
				return Rule{}, err
			}
			lo, hi, ok := parsePorts(f)
			if !ok {
				return Rule{}, fmt.Errorf("rule %q: %q: want a port 1-65535 or a range like 5000-5099", s, f)
			}
			r.PortLo, r.PortHi, r.HasPort = lo, hi, true
		default:
			if err := once(2, "a DSCP"); err != nil {
				return Rule{}, err
			}
			d, ok := parseDSCP(strings.TrimPrefix(f, "dscp="))
			if !ok {
				return Rule{}, fmt.Errorf("rule %q: %q: want tcp, udp, icmp, proto=N, a port, a DSCP (ef, af41, cs1, dscp=N) or an IPv4 prefix", s, f)
			}
			r.DSCP = 1 << d
		}
	}
	if r.HasPort && r.Proto != 0 && r.Proto != ProtoTCP && r.Proto != ProtoUDP {
		return Rule{}, fmt.Errorf("rule %q: ports exist only for tcp and udp", s)
	}
	r.Compile()
	return r, nil
}

// ParseRules reads each rule in order.
func ParseRules(ss []string) ([]Rule, error) {
	rules := make([]Rule, 0, len(ss))
	for _, s := range ss {
		r, err := ParseRule(s)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		s += "/32"
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("not an IPv4 prefix")
	}
	return p.Masked(), nil
}

func parsePorts(s string) (lo, hi uint16, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(a, 10, 16)
	if err != nil || l == 0 {
		return 0, 0, false
	}
	h := l
	if isRange {
		if h, err = strconv.ParseUint(b, 10, 16); err != nil || h < l {
			return 0, 0, false
		}
	}
	return uint16(l), uint16(h), true
}

// Compile prepares a Rule built by hand (not by ParseRule) for Match.
func (r *Rule) Compile() {
	r.net, r.mask = 0, 0
	if r.Prefix.IsValid() {
		b := r.Prefix.Masked().Addr().As4()
		r.net = be32(b)
		if bits := r.Prefix.Bits(); bits > 0 {
			r.mask = ^uint32(0) << (32 - bits)
		}
	}
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Match reports whether p meets every condition of the rule.
func (r *Rule) Match(p *Packet) bool {
	if r.Proto != 0 && p.Proto != r.Proto {
		return false
	}
	if r.DSCP != 0 && r.DSCP&(1<<p.DSCP) == 0 {
		return false
	}
	if r.HasPort && !(p.Ports && (inRange(p.SPort, r.PortLo, r.PortHi) || inRange(p.DPort, r.PortLo, r.PortHi))) {
		return false
	}
	if r.Prefix.IsValid() && be32(p.Src)&r.mask != r.net && be32(p.Dst)&r.mask != r.net {
		return false
	}
	return true
}

func inRange(v, lo, hi uint16) bool { return v >= lo && v <= hi }

// String renders the rule in ParseRule's syntax.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Class.String())
	if r.Proto != 0 {
		b.WriteString(":" + protoName(r.Proto))
	}
	if r.HasPort {
		b.WriteString(":" + strconv.Itoa(int(r.PortLo)))
		if r.PortHi != r.PortLo {
			b.WriteString("-" + strconv.Itoa(int(r.PortHi)))
		}
	}
	for d := uint8(0); d < 64; d++ {
		if r.DSCP&(1<<d) != 0 {
			b.WriteString(":" + dscpName(d))
		}
	}
	if r.Prefix.IsValid() {
		if r.Prefix.Bits() == 32 {
			b.WriteString(":" + r.Prefix.Addr().String())
		} else {
			b.WriteString(":" + r.Prefix.String())
		}
	}
	return b.String()
}
