// Package linkemu is a userspace link emulator: it bridges two network
// interfaces (the two veth ends inside a testbed "net" namespace) and applies
// delay, jitter, Bernoulli and Gilbert–Elliott loss, a rate limit with a
// bounded queue, and outages to each direction, because the kernel the
// testbed runs on has no netem.
//
// One direction's pipeline:
//
//	port A ──read──▶ shaper: outage? loss? GE? rate queue? ──▶ due time
//	                   │ drop (counted per reason)               │
//	                   ▼                                         ▼
//	                 pool                         due ≤ now, queue idle: write now (fast path)
//	                                              otherwise: timed queue ──scheduler──▶ port B
//
// The reader goroutine of each port runs the shaper and either forwards at
// once (no delay, no rate limit, nothing queued) or copies the frame into a
// pooled buffer on a bounded queue. A scheduler goroutine per direction, on
// its own OS thread, sleeps on a timerfd until the head of the queue is due:
// Go's own timers round sub-millisecond waits up to about a millisecond, a
// timerfd wakes within tens of microseconds without spinning. The scheduler
// records how late each frame left (send time − due time) in a histogram.
//
// Frames must carry complete checksums: a veth hands over frames whose
// checksum the sender left to "hardware" (CHECKSUM_PARTIAL), and such a frame
// re-injected through a packet socket is dropped by the receiver as corrupt.
// Turn off transmit checksum offload, TSO, GSO and GRO on every veth end
// before bridging it (the testbed does).
package linkemu
