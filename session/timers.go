package session

import (
	"sync/atomic"
	"time"
)

// Tick is the peer's timer hook: call it for every peer at a steady
// interval (the probe interval, 100 ms) and after Seal returned
// ErrNoKeypair or ErrExhausted. It reports whether to send a new
// initiation now (WriteInitiation, then on every path). It asks for one
// when:
//
//   - Seal wanted a keypair (none, expired, or past RekeyAfterMessages),
//     or as the initiator of the current keypair it is RekeyAfterTime old;
//   - the current keypair is RejectAfterTime-KeepaliveTimeout-RekeyTimeout (165 s) old and we were its
//     responder (the initiator went quiet);
//   - we sealed under the current keypair but received nothing for
//     Config.SilenceRekey (the peer restarted and forgot it);
//
// and never more often than once per RekeyTimeout while an initiation is
// unanswered; never for a peer RemovePeer dropped.
//
// Tick also forgets key material nobody may use any more: keypairs
// 3×RejectAfterTime old and an initiation unanswered for 90 s
// (RekeyAttemptTime), so a later compromise of the host finds no old keys
// to decrypt recorded traffic with (forward secrecy in practice, as
// WireGuard zeroes them).
func (p *Peer) Tick(now time.Time) bool {
	if p.removed.Load() {
		return false
	}
	p.forget(now)
	want := p.wantHandshake.Load()
	kp := p.current.Load()
	if kp != nil && !want {
		age := now.Sub(kp.created)
		want = kp.initiator && age >= RekeyAfterTime ||
			!kp.initiator && age >= responderRekeyAfter ||
			kp.sendCounter.Load() >= p.node.rekeyAfter
		if !want && p.sentSinceRecv.Load() {
			kp.mu.Lock()
			last := kp.lastRecv
			kp.mu.Unlock()
			if last.IsZero() {
				last = kp.created
			}
			want = now.Sub(last) >= p.node.silence
		}
	}
	if !want {
		return false
	}
	// We answered an initiation moments ago: its initiator is about to
	// use the new keypair, which makes it current here.
	if nx := p.next.Load(); nx != nil && now.Sub(nx.created) < RekeyTimeout {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hs != hsInitiationSent || now.Sub(p.lastSent) >= RekeyTimeout
}

// forget drops expired key material and frees its indices. Tick runs
// every probe interval per peer, so taking the lock here costs nothing
// that matters.
func (p *Peer) forget(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, slot := range []*atomic.Pointer[keypair]{&p.current, &p.previous, &p.next} {
		if kp := slot.Load(); kp != nil && now.Sub(kp.created) >= 3*RejectAfterTime {
			slot.Store(nil)
			p.node.idx.remove(kp.localIndex)
		}
	}
	if p.hs == hsInitiationSent && now.Sub(p.lastSent) >= RekeyAttemptTime {
		p.abandonLocked()
	}
}
