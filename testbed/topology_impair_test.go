package testbed_test

import (
	"math"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/linkemu"
	"github.com/polylink/polylink/testbed/nstest"
)

// The impairments, measured end to end through a testbed built once.
func TestImpairmentsThroughTopology(t *testing.T) {
	tb := up(t, testbed.UpOptions{Seed: 1})
	vm0, vm1, vm2 := tb.Host(testbed.VM0), tb.Host(testbed.VM1), tb.Host(testbed.VM2)
	set := func(t *testing.T, net int, ab, ba linkemu.Impairment) {
		t.Helper()
		br := tb.Emulator(net)
		if err := br.AB().SetImpairment(ab); err != nil {
			t.Fatal(err)
		}
		if err := br.BA().SetImpairment(ba); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = br.SetImpairment(linkemu.Impairment{}) })
	}

	t.Run("delay", func(t *testing.T) {
		d := linkemu.Impairment{Delay: 20 * time.Millisecond}
		set(t, 0, d, d)
		lo, avg := nstest.PingRTT(t, vm0, "198.18.0.3", 20)
		t.Logf("net0 with 20 ms each way: RTT min %.2f ms, avg %.2f ms", lo, avg)
		if lo < 40 || lo > 45 {
			t.Errorf("min RTT %.2f ms, want 40–45 ms", lo)
		}
		if lo1, _ := nstest.PingRTT(t, vm0, "198.18.1.3", 5); lo1 > 5 {
			t.Errorf("net1 (no delay) min RTT %.2f ms", lo1)
		}
	})

	t.Run("loss", func(t *testing.T) {
		set(t, 1, linkemu.Impairment{Loss: 0.1}, linkemu.Impairment{})
		tx, rx := udpSockets(t, vm0, "198.18.1.2", vm1, "198.18.1.3")
		const n = 2000
		got := stream(t, tx, rx, n, 100, 100*time.Microsecond, 300*time.Millisecond)
		lost := n - len(got)
		sd := math.Sqrt(n * 0.1 * 0.9) // binomial: 13.4
		t.Logf("10 %% loss: lost %d of %d (expected 200 ± %.1f)", lost, n, sd)
		if math.Abs(float64(lost)-200) > 5*sd {
			t.Errorf("lost %d of %d, outside 200 ± 5σ", lost, n)
		}
		if s := tb.Emulator(1).AB().Stats(); s.DroppedLoss != uint64(lost) {
			t.Errorf("emulator counted %d losses, receiver saw %d", s.DroppedLoss, lost)
		}
	})

	t.Run("gilbert-elliott", func(t *testing.T) {
		ge := &linkemu.GilbertElliott{PGoodBad: 0.02, PBadGood: 0.25, LossBad: 1}
		mean := ge.MeanLoss() // ≈ 7.4 %
		set(t, 2, linkemu.Impairment{GE: ge}, linkemu.Impairment{})
		set(t, 3, linkemu.Impairment{Loss: mean}, linkemu.Impairment{})
		const n = 4000
		geTx, geRx := udpSockets(t, vm1, "198.18.2.3", vm2, "198.18.2.2")
		bTx, bRx := udpSockets(t, vm1, "198.18.3.3", vm2, "198.18.3.2")
		geGot := stream(t, geTx, geRx, n, 100, 50*time.Microsecond, 300*time.Millisecond)
		bGot := stream(t, bTx, bRx, n, 100, 50*time.Microsecond, 300*time.Millisecond)
		geLoss, geBurst := lossAndBurst(geGot, n)
		bLoss, bBurst := lossAndBurst(bGot, n)
		t.Logf("GE (mean %.3f): loss %.3f, mean burst %.2f (model 1/r = %.1f); Bernoulli: loss %.3f, mean burst %.2f",
			mean, geLoss, geBurst, 1/ge.PBadGood, bLoss, bBurst)
		if math.Abs(geLoss-mean) > 0.04 || math.Abs(bLoss-mean) > 0.03 {
			t.Errorf("average loss GE %.3f, Bernoulli %.3f, want both ≈ %.3f", geLoss, bLoss, mean)
		}
		if geBurst < 2.5 || geBurst < 2*bBurst {
			t.Errorf("GE bursts %.2f not visibly longer than Bernoulli's %.2f", geBurst, bBurst)
		}
	})

	t.Run("outage", func(t *testing.T) {
		set(t, 0, linkemu.Impairment{Outages: []linkemu.Outage{{From: time.Second, To: 2 * time.Second}}}, linkemu.Impairment{})
		start := time.Now() // just after the impairment took effect
		tx, rx := udpSockets(t, vm0, "198.18.0.2", vm1, "198.18.0.3")
		// The receiver must outwait the 1 s of silence.
		got := stream(t, tx, rx, 3000, 100, time.Millisecond, 1500*time.Millisecond)
		// Classified by send time: the emulator sees a datagram microseconds
		// after it was sent, and the receiver may read it much later.
		var before, during, after int
		for _, a := range got {
			switch at := a.sent.Sub(start); {
			case at < time.Second-5*time.Millisecond:
				before++
			case at < time.Second+5*time.Millisecond, at >= 2*time.Second-5*time.Millisecond:
				after++
			default:
				during++
			}
		}
		t.Logf("outage 1–2 s: of datagrams sent before it %d arrived, during it %d, after it (or at its edges) %d", before, during, after)
		if during != 0 {
			t.Errorf("%d datagrams crossed during the outage", during)
		}
		if before < 900 || after < 900 {
			t.Errorf("traffic around the outage: %d before, %d after, want ≈ 1000 each", before, after)
		}
		if s := tb.Emulator(0).AB().Stats(); s.DroppedOutage < 900 {
			t.Errorf("emulator counted %d outage drops", s.DroppedOutage)
		}
	})

	t.Run("rate", func(t *testing.T) {
		const rate = 2_000_000
		set(t, 1, linkemu.Impairment{RateBps: rate, QueueLimit: 50 * time.Millisecond}, linkemu.Impairment{})
		tx, rx := udpSockets(t, vm0, "198.18.1.2", vm1, "198.18.1.3")
		// 1000-byte datagrams every 2 ms: 4.2 Mbit/s of frames offered for 2 s.
		const payload = 1000
		got := stream(t, tx, rx, 1000, payload, 2*time.Millisecond, 300*time.Millisecond)
		if len(got) < 10 {
			t.Fatalf("only %d datagrams through the rate limit", len(got))
		}
		frame := payload + 14 + 20 + 8 // what the limiter counts
		span := got[len(got)-1].arrive.Sub(got[0].arrive)
		bps := float64((len(got)-1)*frame*8) / span.Seconds()
		s := tb.Emulator(1).AB().Stats()
		t.Logf("rate limit %d bit/s: %d of 1000 datagrams in %v = %.0f bit/s; %d tail-dropped", rate, len(got), span.Round(time.Millisecond), bps, s.DroppedRate)
		if math.Abs(bps-rate) > 0.05*rate {
			t.Errorf("throughput %.0f bit/s, want %d ± 5 %%", bps, rate)
		}
		if s.DroppedRate == 0 {
			t.Error("no tail drops at twice the rate")
		}
	})
}

// lossAndBurst returns the loss fraction of n sent datagrams and the mean
// length of runs of consecutive lost sequence numbers.
func lossAndBurst(got []arrival, n int) (float64, float64) {
	seen := make([]bool, n)
	for _, a := range got {
		if int(a.seq) < n {
			seen[a.seq] = true
		}
	}
	lost, bursts, run := 0, 0, 0
	for _, ok := range append(seen, true) {
		if !ok {
			lost++
			run++
			continue
		}
		if run > 0 {
			bursts++
			run = 0
		}
	}
	if bursts == 0 {
		return 0, 0
	}
	return float64(lost) / float64(n), float64(lost) / float64(bursts)
}
