// Package stream generates and measures real-time media streams in the
// testbed: a paced UDP Sender (audio-like constant rate, video-like 30 fps
// frame bursts, or both), a Receiver that timestamps every arrival, the
// metrics a real-time application cares about (loss, loss bursts, duplicates,
// reordering, one-way latency percentiles, RFC 3550 jitter, share of packets
// lost or later than a playout deadline, loss inside outage windows), and
// three renderings of the results: a side-by-side text Table, JSON and an SVG
// plot.
//
//	Profile ─▶ schedule ─▶ Sender ──UDP (any path)──▶ Receiver ─▶ Capture
//	             (pure)    paced on absolute            bounded     │
//	                       CLOCK_MONOTONIC deadlines    records     ▼
//	                                        SenderStats ─────────▶ Analyze ─▶ Result
//	                                                                         Table / JSON / SVG
//
// Several streams run at once in one process: open each UDP socket inside
// its namespace (testbed.Namespace.Do), wrap it in a Sender or Receiver, and
// hand the pairs to Measure. Every packet carries its send time from
// CLOCK_MONOTONIC, which all network namespaces share, so one-way latency is
// exact when sender and sink run on one machine.
//
// The package does no logging: it returns errors and counters.
package stream
