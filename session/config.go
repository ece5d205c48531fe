package session

import (
	"io"
	"time"
)

// Protocol timers and limits, WireGuard's values (see
// docs/keyed-protocol.md, "Rekeying").
const (
	RekeyAfterTime             = 120 * time.Second // the initiator of a keypair starts a new handshake
	RejectAfterTime            = 180 * time.Second // a keypair is no longer used either way
	RekeyTimeout               = 5 * time.Second   // an unanswered initiation is sent again
	RekeyAttemptTime           = 90 * time.Second  // an initiation unanswered this long is forgotten
	KeepaliveTimeout           = 10 * time.Second  // (responder fallback margin, below)
	CookieRefreshTime          = 120 * time.Second // the cookie secret rotates; a cookie is valid this long
	InitiationMinGap           = 20 * time.Millisecond
	DefaultRekeyAfter          = uint64(1) << 60                // messages
	DefaultRejectAfter         = ^uint64(0) - (uint64(1) << 13) // messages: never wraps, see Peer.Seal
	DefaultMaxPeers            = 1024
	DefaultLoadPerSec          = 200   // initiations per second before cookies are demanded
	DefaultCookieRepliesPerSec = 20000 // cookie replies per second at most: CPU stays bounded whatever the flood
	rateLimitBuckets           = 4096
	rateLimitPerSec            = 20 // cookie-proven initiations per second per source bucket
	rateLimitBurst             = 5
	cookieJarSize              = 16 // cookies an initiator holds per peer (one per path)
	responderRekeyAfter        = RejectAfterTime - KeepaliveTimeout - RekeyTimeout
)

// Config configures a Node. Only PrivateKey is required; zero fields take
// the defaults named on each.
type Config struct {
	PrivateKey PrivateKey
	// Rand is the source of ephemeral keys, indices and cookie secrets;
	// nil means crypto/rand.Reader.
	Rand io.Reader
	// RekeyAfterMessages starts a handshake when a keypair has sealed this
	// many messages; 0 means DefaultRekeyAfter.
	RekeyAfterMessages uint64
	// RejectAfterMessages is the last counter a keypair seals or opens;
	// 0 means DefaultRejectAfter. Tests set it small to show exhaustion.
	RejectAfterMessages uint64
	// MaxPeers bounds AddPeer and so the index table (4 entries a peer);
	// 0 means DefaultMaxPeers.
	MaxPeers int
	// LoadPerSecond is how many handshake messages per second the node
	// verifies before it is "under load" and demands a cookie (mac2) first;
	// 0 means DefaultLoadPerSec.
	LoadPerSecond int
	// SilenceRekey starts a new handshake when we have sealed packets
	// under the current keypair but received nothing under it for this
	// long (the peer restarted and forgot the keypair); 0 means
	// KeepaliveTimeout+RekeyTimeout (15 s), WireGuard's value. polylink
	// probes every path every 100 ms, so the aggregator may set it to
	// about 1 s for a restarted peer to resume within a second.
	SilenceRekey time.Duration
	// CookieRepliesPerSecond caps the cookie replies a node sends under
	// load; initiations beyond it are dropped after the mac1 check
	// (ErrRateLimited), so a flood of any size costs at most this many
	// replies a second plus one hash per packet. 0 means
	// DefaultCookieRepliesPerSec.
	CookieRepliesPerSecond int
}
