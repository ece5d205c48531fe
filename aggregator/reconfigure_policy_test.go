package aggregator

import (
	"testing"
	"time"
)

// SetPolicy on a running engine: --redundancy all copies bulk to both
// paths from the next packet on, a --metered glob marks the link at once
// (status), and back to the defaults bulk takes one path again; the
// paths and the stream stay up throughout.
func TestSetPolicyAppliesLive(t *testing.T) {
	p := newPolicyPairLinks(t, Policy{}, Policy{}, false, time.Second)
	sendBoth(t, p.a, vipB, 0, 100)
	waitFor(t, "200 delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 200 })
	bulk0, _, _ := classTx(p.a, vipB)
	if bulk0["eth0"]+bulk0["eth1"] != 100 {
		t.Fatalf("bulk per path %v under the default policy: want 100 in all", bulk0)
	}

	p.a.SetPolicy(Policy{CopyAll: true, Metered: []string{"eth1"}})
	st := p.a.Status()
	if st.Policy.Redundancy != "all" || len(st.Policy.Metered) != 1 {
		t.Fatalf("status after SetPolicy: redundancy %q metered %v", st.Policy.Redundancy, st.Policy.Metered)
	}
	metered := map[string]bool{}
	for _, l := range st.Local {
		metered[l.Name] = l.Metered
	}
	if !metered["eth1"] || metered["eth0"] {
		t.Fatalf("links metered after SetPolicy: %v, want eth1 only", metered)
	}
	sendBoth(t, p.a, vipB, 100, 100)
	waitFor(t, "400 delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 400 })
	bulk1, _, _ := classTx(p.a, vipB)
	if bulk1["eth0"]-bulk0["eth0"] != 100 || bulk1["eth1"]-bulk0["eth1"] != 100 {
		t.Fatalf("bulk per path after --redundancy all: %v → %v, want 100 more on each", bulk0, bulk1)
	}

	p.a.SetPolicy(Policy{})
	sendBoth(t, p.a, vipB, 200, 100)
	waitFor(t, "600 delivered", 2*time.Second, func() bool { u, _ := p.sinkB.counts(); return u == 600 })
	bulk2, _, _ := classTx(p.a, vipB)
	if d0, d1 := bulk2["eth0"]-bulk1["eth0"], bulk2["eth1"]-bulk1["eth1"]; d0+d1 != 100 {
		t.Fatalf("bulk per path back on the default policy: %d and %d more, want 100 in all (one copy each)", d0, d1)
	}
	if u, dups := p.sinkB.counts(); u != 600 || dups != 0 {
		t.Fatalf("delivered %d (duplicates %d), want 600 once each", u, dups)
	}
}
