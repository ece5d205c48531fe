package aggregator

import (
	"time"

	"github.com/polylink/polylink/session"
)

// KeyedStatus is keyed mode's part of Status. JSON keys: add, never rename.
type KeyedStatus struct {
	// Enabled: this node has a key and accepts only keyed (v2) packets;
	// false means unauthenticated (keyless, wire v1).
	Enabled bool `json:"enabled"`
	// PublicKey is this node's public key (short form), "" when keyless.
	PublicKey string `json:"public_key,omitempty"`
	// AllowedKeys is how many peer keys may join.
	AllowedKeys    int    `json:"allowed_keys"`
	KeylessDropped uint64 `json:"keyless_dropped"`
	// NotCovered: inner packets whose source the key that opened them
	// does not cover.
	NotCovered  uint64 `json:"not_covered_dropped"`
	WrongHost   uint64 `json:"wrong_host_dropped"`
	NoHostYet   uint64 `json:"no_host_yet_dropped"`
	SealFailed  uint64 `json:"seal_failed"`
	Initiations uint64 `json:"initiations_sent"`
	Replies     uint64 `json:"handshake_replies_sent"`
	// Dropped counts refused v2 messages by reason (session.Error text);
	// duplicates are counters.duplicates_dropped.
	Dropped map[string]uint64 `json:"dropped_by_reason"`
}

// keyedStatus fills s.Keyed. Called with e.mu read-locked.
func (e *Engine) keyedStatus(s *Status) {
	ks := e.keyed
	if ks == nil {
		s.Mode = "unauthenticated"
		return
	}
	s.Mode = "keyed"
	st := &ks.stats
	s.Keyed = KeyedStatus{Enabled: true, PublicKey: ks.node.PublicKey().Short(), AllowedKeys: len(ks.set.Load().byKey),
		KeylessDropped: st.keyless.Load(), NotCovered: st.notCovered.Load(), WrongHost: st.wrongHost.Load(),
		NoHostYet: st.noHostYet.Load(), SealFailed: st.sealFailed.Load(), Initiations: st.initiations.Load(),
		Replies: st.replies.Load(), Dropped: map[string]uint64{}}
	for i := range ks.errs {
		if n := ks.errs[i].Load(); n > 0 {
			s.Keyed.Dropped[session.Error(i).Error()] = n
		}
	}
}

// keyedHostStatus adds a host's key fields: keyed (a keypair seals now),
// its public key, and the time since its last handshake (-1: never).
func keyedHostStatus(h *host, hs *HostStatus) {
	hs.LastHandshakeS = -1
	if h.kp == nil {
		return
	}
	now := time.Now()
	ps := h.kp.peer.Status(now)
	hs.Keyed, hs.PublicKey = ps.Keyed, ps.PublicKey.Short()
	if !ps.LastHandshake.IsZero() {
		hs.LastHandshakeS = now.Sub(ps.LastHandshake).Seconds()
	}
}
