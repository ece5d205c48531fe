package session

import "sync"

// indexTable maps the receiver indices we hand out to what they name: a
// peer's pending initiation (kp nil) or one of its keypairs. Entries are
// created only for allowed peers (at most 4 a peer: a pending initiation
// and current, previous, next keypairs), so a stranger never grows it;
// max is a second, hard bound.
type indexTable struct {
	mu  sync.RWMutex
	m   map[uint32]indexEntry // guarded by mu
	max int
}

type indexEntry struct {
	peer *Peer
	kp   *keypair // nil: the peer's pending initiation
}

func (t *indexTable) init(max int) {
	t.m = make(map[uint32]indexEntry)
	t.max = max
}

// add stores e under a fresh random non-zero index.
func (t *indexTable) add(n *Node, e indexEntry) (uint32, error) {
	var b [4]byte
	for {
		n.readRand(b[:])
		i := getUint32(b[:])
		if i == 0 {
			continue
		}
		t.mu.Lock()
		if len(t.m) >= t.max {
			t.mu.Unlock()
			return 0, ErrTableFull
		}
		if _, used := t.m[i]; !used {
			t.m[i] = e
			t.mu.Unlock()
			return i, nil
		}
		t.mu.Unlock()
	}
}

// swap replaces the entry at i (a pending initiation becoming a keypair
// keeps its index, as the peer already writes it).
func (t *indexTable) swap(i uint32, e indexEntry) {
	t.mu.Lock()
	t.m[i] = e
	t.mu.Unlock()
}

func (t *indexTable) lookup(i uint32) (indexEntry, bool) {
	t.mu.RLock()
	e, ok := t.m[i]
	t.mu.RUnlock()
	return e, ok
}

func (t *indexTable) remove(i uint32) {
	if i == 0 {
		return
	}
	t.mu.Lock()
	delete(t.m, i)
	t.mu.Unlock()
}

func (t *indexTable) len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}
