//go:build race

package aggregator

// raceEnabled: tests that count allocations skip under the race detector.
const raceEnabled = true
