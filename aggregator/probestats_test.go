package aggregator

import "testing"

func TestProbeStatsArithmetic(t *testing.T) {
	var p probeStats
	const ms = int64(1e6)
	// Three probes at t = 0, 100, 200 ms answered after 10, 30 and 10 ms.
	rtts := []int64{10 * ms, 30 * ms, 10 * ms}
	for i, rtt := range rtts {
		sent := int64(i)*100*ms + 1
		seq := p.next(sent)
		if seq != uint32(i+1) {
			t.Fatalf("probe %d has sequence %d", i, seq)
		}
		if !p.reply(seq, sent, sent+rtt) {
			t.Fatalf("reply to probe %d not matched", i)
		}
	}
	// srtt: 10, then 10 + (30-10)/8 = 12.5, then 12.5 + (10-12.5)/8 = 12.1875 ms.
	// jitter (RTT to RTT): 0, then 20/16 = 1.25, then 1.25 + (20-1.25)/16 = 2.421875 ms.
	v := p.view(300*ms, 0)
	if v.srtt != 12187500 || v.jitter != 2421875 {
		t.Fatalf("srtt %d ns, jitter %d ns; want 12187500 and 2421875", v.srtt, v.jitter)
	}
	if v.sent != 3 || v.lost != 0 || v.loss != 0 {
		t.Fatalf("sent %d lost %d loss %v, want 3 0 0", v.sent, v.lost, v.loss)
	}
	// A second answer to the same probe, a wrong send time and an unknown
	// sequence are not matches.
	if p.reply(3, 200*ms+1, 250*ms) || p.reply(2, 5, 250*ms) || p.reply(77, 0, 250*ms) {
		t.Fatal("a duplicate, a wrong send time or an unknown sequence matched")
	}
	// Two unanswered probes: loss counts only those older than maturity.
	p.next(400 * ms)
	p.next(500 * ms)
	if v := p.view(550*ms, 100*ms); v.loss != 1.0/4 {
		t.Fatalf("loss %v with one of four mature probes unanswered, want 0.25", v.loss)
	}
	if v := p.view(700*ms, 100*ms); v.loss != 2.0/5 {
		t.Fatalf("loss %v with two of five unanswered, want 0.4", v.loss)
	}
	// Unanswered probes pushed out of the ring are counted lost.
	for i := range probeRingLen {
		p.next(int64(600+i) * ms)
	}
	if v := p.view(10000*ms, 0); v.lost != 2 || v.sent != 5+probeRingLen {
		t.Fatalf("after a full ring: lost %d, sent %d; want 2 and %d", v.lost, v.sent, 5+probeRingLen)
	}
	if sent, at := p.last(); sent != 5+probeRingLen || at != int64(600+probeRingLen-1)*ms {
		t.Fatalf("last() = %d, %d", sent, at)
	}
}
