package stream

import "math"

// niceStep returns a 1, 2 or 5 × 10ⁿ step that cuts span into about n parts.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch norm := raw / mag; {
	case norm <= 1:
		return mag
	case norm <= 2:
		return 2 * mag
	case norm <= 5:
		return 5 * mag
	default:
		return 10 * mag
	}
}

// niceCeil rounds v up to a whole number of niceStep(v, 5).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	step := niceStep(v, 5)
	return math.Ceil(v/step-1e-9) * step
}

// ticks returns the multiples of step in [0, top].
func ticks(top, step float64) []float64 {
	var out []float64
	for i := 0; ; i++ {
		v := float64(i) * step
		if v > top+step*1e-9 {
			return out
		}
		out = append(out, v)
	}
}
