package session

import (
	"crypto/cipher"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// keypair is one direction pair of transport keys from one handshake. The
// send side is lock-free (an atomic counter); the receive side's replay
// window is guarded by mu. Immutable fields are set before the keypair is
// published through the peer's atomic pointers.
type keypair struct {
	peer        *Peer
	send        cipher.AEAD
	recv        cipher.AEAD
	created     time.Time
	initiator   bool   // we sent the initiation: we rekey it on time
	localIndex  uint32 // the receiver index the peer writes to us
	remoteIndex uint32 // the receiver index we write to the peer
	sendCounter atomic.Uint64

	mu       sync.Mutex
	window   replayWindow // guarded by mu
	lastRecv time.Time    // last message verified under this keypair, guarded by mu
}

func newKeypair(p *Peer, sendKey, recvKey [32]byte, now time.Time, initiator bool, local, remote uint32) *keypair {
	s, _ := chacha20poly1305.New(sendKey[:])
	r, _ := chacha20poly1305.New(recvKey[:])
	return &keypair{peer: p, send: s, recv: r, created: now, initiator: initiator, localIndex: local, remoteIndex: remote}
}

// expired reports whether kp may no longer seal or open at now.
func (kp *keypair) expired(now time.Time) bool {
	return now.Sub(kp.created) >= RejectAfterTime
}
