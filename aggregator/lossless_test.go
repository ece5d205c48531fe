package aggregator

import "testing"

// TestLooksLosslessSeesALateTurn: second copies are held only for a path
// clean over its life and over its last probes. A path clean for an hour
// (36,000 probes) that now loses 2 of its last 64 has a lifetime share of
// 0.006 %, far under the 0.2 % threshold, and must still get second copies.
func TestLooksLosslessSeesALateTurn(t *testing.T) {
	for _, c := range []struct {
		name string
		v    probeView
		want bool
	}{
		{"clean for an hour", probeView{sent: 36000, lost: 0, loss: 0}, true},
		{"clean for an hour, lossy lately", probeView{sent: 36000, lost: 0, loss: 2.0 / 64}, false},
		{"lossy in its life, clean lately", probeView{sent: 1000, lost: 20, loss: 0}, false},
		{"nothing sent yet", probeView{}, true},
	} {
		if got := c.v.looksLossless(); got != c.want {
			t.Errorf("%s: looksLossless() = %v, want %v (lifetime %.4f %%, ring %.2f %%)",
				c.name, got, c.want, 100*c.v.lifetimeLoss(), 100*c.v.loss)
		}
	}
}
