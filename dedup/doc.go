// Package dedup is polylink's duplicate filter: every packet reaches the far
// end once per working path, and only the first copy may be delivered.
//
// A sender numbers its data packets with a 13-bit ID, the same on every
// copy. The receiver keeps one [Window] per sending host: for each of the
// 8192 IDs, when it was last accepted. A copy whose ID was accepted less than
// [Expiry] ago is a duplicate; otherwise it is a new packet. Checks are O(1)
// and allocate nothing. [Table] holds the windows of many hosts, bounded in
// number so forged host addresses cannot grow memory.
//
// The scheme has two limits that callers should measure and show rather
// than hide:
//
//   - Rate. More than WindowSize packets from one host within Expiry, that
//     is above 16,384 packet/s, wrap the ID space inside the window: a new
//     packet reuses an ID accepted less than Expiry ago and is dropped as a
//     Duplicate.
//   - Path skew. A copy arriving Expiry or more after the first (a
//     bufferbloated LTE path behind a fast Wi-Fi one) is accepted a second
//     time. Check reports the copies it can recognise as [AcceptedLate]; see
//     [Window.Check] for the heuristic and where it errs.
//
// Time is injected: callers pass a monotonic clock in nanoseconds, which
// must not run backwards for a given window.
package dedup
