package session

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// limiter bounds the handshakes a node verifies. Two parts, both of fixed
// size whatever strangers send:
//
//   - a load meter: handshake messages seen in the current second; above
//     Config.LoadPerSecond the node is "under load" for the rest of that
//     second and the next, and demands mac2 (a cookie) before any DH;
//   - per-source token buckets for cookie-proven senders: a fixed array
//     indexed by a keyed hash of the source address, so a source (real:
//     it proved it receives at its address) cannot spend the budget of
//     the others; two sources that share a bucket share its budget.
type limiter struct {
	mu         sync.Mutex
	seed       maphash.Seed
	perSecond  int
	second     int64 // unix second of the current count, guarded by mu
	count      int   // guarded by mu
	loadUntil  int64 // under load through this unix second, guarded by mu
	maxReplies int
	replySec   int64 // unix second of replies, guarded by mu
	replies    int   // cookie replies sent in replySec, guarded by mu
	buckets    [rateLimitBuckets]bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *limiter) init(perSecond, maxReplies int) {
	l.seed = maphash.MakeSeed()
	l.perSecond = perSecond
	l.maxReplies = maxReplies
}

// allowReply spends one of this second's cookie replies.
func (l *limiter) allowReply(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec := now.Unix(); sec != l.replySec {
		l.replySec, l.replies = sec, 0
	}
	if l.replies >= l.maxReplies {
		return false
	}
	l.replies++
	return true
}

// observe counts one handshake message at now and reports whether the
// node is under load.
func (l *limiter) observe(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	sec := now.Unix()
	if sec != l.second {
		l.second, l.count = sec, 0
	}
	l.count++
	if l.count > l.perSecond {
		l.loadUntil = sec + 1
	}
	return sec <= l.loadUntil
}

// allow spends one token of src's bucket.
func (l *limiter) allow(src netip.Addr, now time.Time) bool {
	a := src.As16()
	i := maphash.Bytes(l.seed, a[:]) % rateLimitBuckets
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &l.buckets[i]
	if b.last.IsZero() {
		b.tokens = rateLimitBurst
	} else {
		b.tokens += now.Sub(b.last).Seconds() * rateLimitPerSec
		if b.tokens > rateLimitBurst {
			b.tokens = rateLimitBurst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
