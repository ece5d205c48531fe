// Package session is polylink's keyed mode: who may join (Curve25519 keys
// bound to virtual addresses), the Noise IK handshake per host pair, and
// the sealing and opening of every data packet and probe (ChaCha20-Poly1305
// with 64-bit counters and an RFC 6479 replay window that is also the
// exact dedup of multipath copies). docs/keyed-protocol.md is the protocol;
// this comment is how to drive it.
//
// The package is pure: no I/O, no goroutines, no clock (every method that
// needs the time takes now), no logging. Seal and Receive of transport
// messages allocate nothing. All methods are safe for concurrent use.
//
// # Values and constructors
//
//   - PrivateKey, PublicKey: 32-byte values; the zero value is "no key".
//     GeneratePrivateKey, ParsePrivateKey, ParsePublicKey make them;
//     PublicKey.String is the base64 `wg` users know, Short the status form.
//   - Node: NewNode(Config{PrivateKey: k}); one per daemon.
//   - Peer: Node.AddPeer(pub, prefixes...); one per allowed host, made at
//     start-up from --allow PUB=VIP and --peer-key PUB (a router node's
//     key covers, on its hosts, the prefixes it relays).
//   - wire v2 framing (wire.DecodeV2, wire.ProbeV2) is in package wire.
//
// # How the aggregator uses it
//
// Send, TUN reader goroutine, for each inner packet:
//
//	peer := node.Lookup(innerDst)             // or the next-hop host's peer
//	buf = buf[:wire.TransportHeaderLen+n]     // TUN read at offset 16, cap ≥ len+wire.TagLen
//	msg, err := peer.Seal(buf, wire.MsgData, now)
//	// err ErrNoKeypair/ErrExhausted: count, drop (or keep a few in a small
//	// bounded queue), and let the timer below start the handshake at once
//	// (call peer.Tick(now) now rather than waiting for the next tick).
//	// Otherwise: send msg, the SAME bytes, on every usable path of the host.
//
// Probes, per path at the probe interval (they are also the keepalives:
// a peer that seals but hears nothing under the current keypair for
// Config.SilenceRekey starts a new handshake, so both sides must probe): encode a wire.ProbeV2 (the path's
// ids, its 3-state handshake, seq, send time) at offset 16, Seal it with
// wire.MsgProbe, send it on that path only. Probes are sealed per path;
// data once per packet.
//
// Timers, every probe interval, for every peer:
//
//	if peer.Tick(now) {
//		m, _ := peer.WriteInitiation(initBuf, now)
//		for each path of the peer (learned endpoints and configured --peer addresses):
//			c := copy of m; peer.StampMac2(c, path, now); send c on path
//	}
//
// Receive, raw/UDP reader goroutine, for each packet after the outer header:
//
//	v, err := wire.BundleVersion(b)    // 1: keyless (only on a keyless node), 2: keyed
//	r, err := node.Receive(b, session.Path{Local: nic, Remote: src}, now, replyBuf)
//	if err != nil → counters[err.(session.Error)]++ and drop; never answer.
//	               ErrDuplicate is the normal fate of every copy after the
//	               first: count it as duplicates_dropped.
//	if r.Reply != nil → send r.Reply once, back to src on the same path only.
//	if r.HandshakeDone → send a probe on every path of r.Peer now (the
//	               responder starts sealing with the new keypair when it
//	               sees it used).
//	switch r.Type {
//	case wire.MsgData:  inner := r.Payload (empty: keepalive, drop);
//	                    drop unless r.Peer.Allows(inner source address);
//	                    deliver — no other dedup: the window is exact.
//	case wire.MsgProbe: wire.DecodeProbeV2(r.Payload, &p); per-path state.
//	}
//
// Paths: learn or move a remote endpoint of r.Peer only from a Result of
// type data or probe (it verified under a keypair and was not a replay),
// never from a handshake message or anything that failed. Send data on a
// newly learned endpoint only after its probe state reaches 2 (a sealed
// probe reply echoing a probe sent to that endpoint came back), so a forged
// or raced source address never receives a stream.
//
// Status: peer.Status(now) gives keyed, the key (Short), and the time of
// the last handshake. Counters: an array indexed by Error, NumErrors long.
//
// A keyed node accepts only version 2 messages; wire v1 stays for keyless
// nodes, which say so (warning, "unauthenticated" in status).
package session
