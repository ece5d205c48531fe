package classify

import "testing"

// FuzzParse feeds arbitrary bytes to the inner-packet parser and the
// classifier: never a panic, and what Parse accepts is consistent with the
// bytes.
func FuzzParse(f *testing.F) {
	f.Add(pkt(ProtoUDP, DSCPEF, vmA, vmB, 1, 2, 0, 28))
	f.Add(pkt(ProtoTCP, 0, vmA, vmB, 1, 2, 0, 40))
	f.Add(pkt(ProtoTCP, 0, vmA, vmB, 1, 2, 7, 40))
	f.Add([]byte{0x4f, 0, 0, 20})
	f.Add([]byte{})
	rules, _ := ParseRules([]string{"bulk:udp:443", "realtime:tcp:22", "bulk:198.19.1.0/24"})
	c := New(rules)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := Parse(b)
		cl, _, ok2 := c.Classify(b)
		if ok != ok2 || (cl != RealTime && cl != Bulk) {
			t.Fatalf("classify disagrees: ok %v/%v class %v", ok, ok2, cl)
		}
		if !ok {
			if cl != RealTime {
				t.Fatalf("unparsable packet classed %v", cl)
			}
			return
		}
		ihl := int(b[0]&0x0f) * 4
		if b[0]>>4 != 4 || ihl < 20 || ihl > len(b) {
			t.Fatalf("accepted a bad header: % x", b[:min(len(b), 20)])
		}
		if p.Ports && (len(b) < ihl+4 || (p.Proto != ProtoTCP && p.Proto != ProtoUDP)) {
			t.Fatalf("ports read where there are none")
		}
		if !p.Ports && (p.SPort != 0 || p.DPort != 0) {
			t.Fatalf("ports set without Ports")
		}
	})
}
