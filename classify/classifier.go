package classify

// dscpRealTime and dscpBulk are the default marks of each class.
const (
	dscpRealTime = 1<<DSCPEF | 1<<DSCPVA | 1<<DSCPAF41 | 1<<DSCPAF42 | 1<<DSCPAF43 | 1<<DSCPCS4 | 1<<DSCPCS5
	dscpBulk     = 1<<DSCPCS1 | 1<<DSCPLE
)

// Classifier assigns classes by its rules, then the defaults. The zero
// value applies only the defaults. It is read-only after New, so any
// number of goroutines may use it at once.
type Classifier struct {
	rules []Rule
}

// New returns a classifier that tries rules in order before the defaults.
func New(rules []Rule) *Classifier {
	c := &Classifier{rules: append([]Rule(nil), rules...)}
	for i := range c.rules {
		c.rules[i].Compile()
	}
	return c
}

// Rules returns a copy of the classifier's rules.
func (c *Classifier) Rules() []Rule { return append([]Rule(nil), c.rules...) }

// Classify returns the class of the IPv4 packet pkt and its parsed fields
// (ok false: not parsable, the class is RealTime). It never allocates.
func (c *Classifier) Classify(pkt []byte) (cl Class, p Packet, ok bool) {
	p, ok = Parse(pkt)
	if !ok {
		return RealTime, p, false
	}
	return c.ClassOf(&p), p, true
}

// ClassOf returns the class of a parsed packet: the first matching rule's,
// else the default's.
func (c *Classifier) ClassOf(p *Packet) Class {
	if c != nil {
		for i := range c.rules {
			if c.rules[i].Match(p) {
				return c.rules[i].Class
			}
		}
	}
	return Default(p)
}

// Default is the class of a packet no rule matched: a real-time DSCP mark
// wins, then a bulk one, then TCP is bulk and everything else real-time.
func Default(p *Packet) Class {
	bit := uint64(1) << p.DSCP
	switch {
	case dscpRealTime&bit != 0:
		return RealTime
	case dscpBulk&bit != 0, p.Proto == ProtoTCP:
		return Bulk
	}
	return RealTime
}
