package aggregator

import (
	"testing"
	"time"
)

// TestDataCopiesCarryInnerTOS (issue 12): every copy of a data packet
// leaves with the inner packet's TOS byte in its outer TOS, DSCP and ECN
// (RFC 6040 normal mode), keyless or keyed (where the sealed bundle hides
// the inner header from the link); probes and handshakes go best effort.
func TestDataCopiesCarryInnerTOS(t *testing.T) {
	for _, mode := range []struct {
		name string
		pair func(*testing.T) *pair
	}{
		{"keyless", func(t *testing.T) *pair { return newPairWith(t, steady) }},
		{"keyed", newKeyedPair},
	} {
		t.Run(mode.name, func(t *testing.T) {
			p := mode.pair(t)
			waitFor(t, "two paths up at A", 5*time.Second, func() bool {
				hs := p.a.Status().Hosts
				return len(hs) == 1 && hs[0].UpPaths == 2
			}, p.a, p.b)
			const (
				n      = 50
				efECT1 = 0xb9 // EF with ECN ECT(1): the link must see it whole
			)
			for i := range uint32(n) {
				pkt := ipv4Packet(i)
				pkt[1] = efECT1
				if err := p.a.Send(vipB, pkt); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "B delivered the EF packets", 5*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == n }, p.a, p.b)
			for _, l := range p.aLinks {
				if got := l.SentWithTOS(efECT1); got < n {
					t.Errorf("%s: %d copies left with outer TOS EF + ECT(1), want at least %d (one per packet)", l.Name(), got, n)
				}
				if l.SentWithTOS(0) == 0 {
					t.Errorf("%s: no best-effort packet (probe, handshake) was written", l.Name())
				}
			}
		})
	}
}
