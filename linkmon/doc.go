// Package linkmon keeps polylink's set of usable local NICs current and owns,
// per NIC, one raw IP-in-IP socket bound to it.
//
// On Linux, binding a socket to an address does not choose the NIC a packet
// leaves through: the routing table does. Only SO_BINDTODEVICE (here its
// race-free form, SO_BINDTOIFINDEX) pins a socket to one NIC, for sending and
// receiving alike. So polylink needs, at every moment, exactly one bound
// socket per usable NIC, and must follow NICs as they come, go and change
// address without restarting.
//
// The monitor is snapshot-and-diff: netlink messages are only a trigger.
//
//	netlink subscription (links + IPv4 addresses)      subscription.go
//	      │ any message: "something changed"
//	      ▼
//	trigger, one slot: a burst coalesces into one re-read
//	      ▼
//	dump links and IPv4 addresses, retried when
//	interrupted                                        dump.go
//	      ▼
//	usableNICs: the rules, map[index]NIC               rules.go
//	      ▼
//	diff(old, new): Removed, Changed, Added            diff.go
//	      ▼
//	apply: close and open sockets inside the watched
//	namespace, publish NICs(), send Events()           monitor.go
//
// When the subscription breaks (ENOBUFS after an overrun, any receive error)
// the monitor resubscribes and re-reads everything, so it never drifts from
// the kernel's state.
package linkmon
