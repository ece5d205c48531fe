package classify

import "testing"

// BenchmarkClassify is the classifier's cost per packet on the send path:
// parse and the defaults, with a few rules ahead of them, and with the
// flow-table record beside it.
func BenchmarkClassify(b *testing.B) {
	rules, _ := ParseRules([]string{"bulk:udp:443", "realtime:tcp:22", "bulk:198.19.1.0/24"})
	p := pkt(ProtoUDP, 0, vmA, vmB, 5004, 5004, 0, 200)
	b.Run("defaults", func(b *testing.B) {
		var c Classifier
		b.ReportAllocs()
		for b.Loop() {
			c.Classify(p)
		}
	})
	b.Run("3rules", func(b *testing.B) {
		c := New(rules)
		b.ReportAllocs()
		for b.Loop() {
			c.Classify(p)
		}
	})
	b.Run("3rules+flowtable", func(b *testing.B) {
		c := New(rules)
		ft := NewFlowTable(1024)
		paths := []int32{2, 3}
		b.ReportAllocs()
		var now int64
		for b.Loop() {
			now++
			cl, pp, _ := c.Classify(p)
			ft.Record(pp.Flow, cl, len(p), now, paths)
		}
	})
}
