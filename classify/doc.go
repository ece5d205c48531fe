// Package classify sorts the inner IPv4 packets polylink carries into two
// traffic classes and keeps a bounded table of the flows it has seen.
//
//	packet ─▶ Parse (IPv4 header, DSCP, protocol, ports of a first fragment)
//	       ─▶ rules, in order: the first that matches decides
//	       ─▶ no rule matched: the defaults below
//	       ─▶ RealTime: copied onto every working path
//	          Bulk:     sent on one path, never copied
//
// Defaults, chosen for a robot that streams media and syncs files:
//
//	DSCP EF, VA, AF41–AF43, CS4, CS5 ─▶ RealTime (marked media wins over the protocol)
//	DSCP CS1, LE                      ─▶ Bulk     (lower effort, RFC 8622)
//	TCP                               ─▶ Bulk     (it repairs its own losses)
//	anything else (UDP, ICMP, …)      ─▶ RealTime (WebRTC, RTCP, STUN, DDS, games)
//	not a parsable IPv4 packet        ─▶ RealTime (the seed's copy-everything)
//
// Rules (--class, repeatable; the config file's class list) override the
// defaults; see ParseRule for their syntax. The package is pure: no I/O, no
// allocation per packet, clock passed in.
package classify
