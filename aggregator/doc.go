// Package aggregator is polylink's bundle engine: it keeps, per remote host,
// the set of connections (local NIC × remote NIC), runs the seed's 3-state
// handshake and probes on each, copies every outgoing packet onto every
// working connection and keeps only the first copy of every incoming one.
//
// Transmit (send.go):
//
//	Send(host, pkt) ─▶ next 13-bit ID of the bundle
//	                ─▶ for each connection in state 2 (if none is: all to
//	                   NICs that ever answered us):
//	                     pooled buffer ◀─ header + copy of pkt
//	                     ─▶ link queue empty and TryWriteTo takes it: sent now
//	                     ─▶ otherwise that link's bounded queue (full: drop, count)
//	                          ─▶ the link's writer goroutine ─▶ Link.WriteTo
//
// Receive (receive.go), one reader goroutine per link:
//
//	Link.ReadFrom ─▶ wire.Decode (bad: drop, count by reason)
//	              ─▶ host / remote NIC / connection (learned, bounded;
//	                 unproven ones evicted first)
//	              ─▶ probe: reply; on a path we have not proven (or with a
//	                 new epoch) reply + our probe in one packet (handshake.go)
//	              ─▶ probe reply matching our probe: RTT, loss, jitter, and
//	                 proof: state 2 for the dead interval (conn.go)
//	              ─▶ data from a NIC that answered us (or any before the
//	                 host's first did): dedup, first copy wins ─▶ Config.Deliver
//	                 (on a path we have not proven: our probe at once)
//
// Nothing a packet earns back is more than one packet, and a NIC that never
// answered us is never probed unasked. Learning and eviction live in
// learn.go; timers (probes, dead interval, expiry) in timers.go; operator
// events reach the logger through one goroutine, never under the lock
// (events.go).
//
// The engine takes links through the small Link interface declared here, so
// it never imports netlink; FakeNetwork beside it runs the whole engine in
// memory.
package aggregator
