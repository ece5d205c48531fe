package classify

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// MaxFlowPaths is how many paths a flow-table entry counts apart; a flow
// seen on more (rare: paths come and go) reuses its least used count.
const MaxFlowPaths = 4

// flowWays is the table's associativity: a new flow takes the least
// recently seen of the ways of its set, so a flood of distinct flows
// recycles entries rather than growing memory.
const flowWays = 4

// FlowTable remembers recent flows (5-tuple → class, packets and bytes per
// path) for status. Its memory is fixed at construction: a flood of
// distinct flows evicts old entries, never grows it. Safe for concurrent
// use: each set of entries has its own mutex, held for a few nanoseconds.
type FlowTable struct {
	seed    uint64
	sets    []flowSet
	evicted atomic.Uint64
}

type flowSet struct {
	mu sync.Mutex
	e  [flowWays]flowEntry // guarded by mu
}

type flowEntry struct {
	used        bool
	key         Flow
	class       Class
	first, last int64
	packets     uint64
	bytes       uint64
	paths       [MaxFlowPaths]PathCount
}

// PathCount is a flow's traffic on one path.
type PathCount struct {
	// Path is the caller's name for the path (polylink: the local NIC's
	// ifindex).
	Path    int32
	Packets uint64
	Bytes   uint64
}

// FlowInfo is one flow as status shows it.
type FlowInfo struct {
	Flow
	Class   Class
	First   int64 // caller's clock at the first packet
	Last    int64 // and at the last
	Packets uint64
	Bytes   uint64
	Paths   []PathCount
}

// NewFlowTable returns a table of at least size entries (rounded up to a
// power of two, at least flowWays).
func NewFlowTable(size int) *FlowTable {
	sets := 1
	for sets*flowWays < size {
		sets *= 2
	}
	return &FlowTable{seed: rand.Uint64() | 1, sets: make([]flowSet, sets)}
}

// Cap is how many flows the table holds.
func (t *FlowTable) Cap() int { return len(t.sets) * flowWays }

// Evicted counts flows pushed out by newer ones.
func (t *FlowTable) Evicted() uint64 { return t.evicted.Load() }

// hash mixes the 5-tuple with the table's random seed, so a stranger
// cannot aim many flows at one set on purpose.
func (t *FlowTable) hash(k *Flow) uint64 {
	h := t.seed
	h ^= uint64(be32(k.Src))<<32 | uint64(be32(k.Dst))
	h *= 0x9e3779b97f4a7c15
	h ^= uint64(k.Proto)<<32 | uint64(k.SPort)<<16 | uint64(k.DPort)
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>31
}

// Record counts one packet of n bytes of flow k, of class c, sent at now on
// each of paths (one count per copy). It never allocates.
func (t *FlowTable) Record(k Flow, c Class, n int, now int64, paths []int32) {
	s := &t.sets[t.hash(&k)&uint64(len(t.sets)-1)]
	s.mu.Lock()
	e := s.find(&k)
	if e == nil {
		e = s.victim()
		if e.used {
			t.evicted.Add(1)
		}
		*e = flowEntry{used: true, key: k, first: now}
	}
	e.class, e.last = c, now
	e.packets++
	e.bytes += uint64(n)
	for _, p := range paths {
		pc := e.path(p)
		pc.Packets++
		pc.Bytes += uint64(n)
	}
	s.mu.Unlock()
}

func (s *flowSet) find(k *Flow) *flowEntry {
	for i := range s.e {
		if s.e[i].used && s.e[i].key == *k {
			return &s.e[i]
		}
	}
	return nil
}

// victim is a free way or else the least recently seen one.
func (s *flowSet) victim() *flowEntry {
	v := &s.e[0]
	for i := range s.e {
		e := &s.e[i]
		if !e.used {
			return e
		}
		if e.last < v.last {
			v = e
		}
	}
	return v
}

// path returns the entry's count for path p, taking a free slot or the
// least used one.
func (e *flowEntry) path(p int32) *PathCount {
	var free, least *PathCount
	for i := range e.paths {
		pc := &e.paths[i]
		switch {
		case pc.Packets != 0 && pc.Path == p:
			return pc
		case pc.Packets == 0 && free == nil:
			free = pc
		case least == nil || pc.Packets < least.Packets:
			least = pc
		}
	}
	if free == nil {
		free = least
	}
	*free = PathCount{Path: p}
	return free
}

// Flows returns the flows seen since `since` (caller's clock), most bytes
// first, at most max of them (0: all).
func (t *FlowTable) Flows(since int64, max int) []FlowInfo {
	var out []FlowInfo
	for i := range t.sets {
		s := &t.sets[i]
		s.mu.Lock()
		for j := range s.e {
			e := &s.e[j]
			if !e.used || e.last < since {
				continue
			}
			fi := FlowInfo{Flow: e.key, Class: e.class, First: e.first, Last: e.last, Packets: e.packets, Bytes: e.bytes}
			for _, pc := range e.paths {
				if pc.Packets != 0 {
					fi.Paths = append(fi.Paths, pc)
				}
			}
			out = append(out, fi)
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b FlowInfo) int {
		switch {
		case a.Bytes > b.Bytes:
			return -1
		case a.Bytes < b.Bytes:
			return 1
		}
		return 0
	})
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}
