package session

// A replay window in the style of RFC 6479: a ring of 64-bit blocks and the
// highest counter seen. A counter is new if it is above the highest, or
// within the window below it and its bit is clear. Moving forward clears
// only the blocks the window slides over, so every operation is O(1) (at
// most ringBlocks words when the counter jumps far).
//
// The window is the exact dedup of keyed mode: every copy of a data packet
// carries the same counter under the same key, so the first copy to verify
// sets the bit and every later copy, however late, is refused: as a
// duplicate while it is inside the window, as too old behind it.
const (
	ringBlocks  = 1 << 9 // 512 blocks of 64 bits: 4 KiB per keypair
	blockBits   = 64
	blockShift  = 6
	ringBits    = ringBlocks * blockBits
	WindowSize  = ringBits - blockBits // 32,704 counters behind the highest
	blockMaskRB = ringBlocks - 1
)

// replayWindow is not safe for concurrent use; the keypair's mutex guards
// it. Its zero value is an empty window (no counter seen).
type replayWindow struct {
	highest uint64 // highest counter accepted
	any     bool   // whether any counter was accepted (counter 0 is valid)
	ring    [ringBlocks]uint64
}

// replayVerdict says what check found.
type replayVerdict uint8

const (
	replayNew replayVerdict = iota
	replayDuplicate
	replayTooOld
)

// check reports whether c would be accepted, without changing the window.
// It runs before the tag is verified so copies of a delivered packet cost
// no decryption.
func (w *replayWindow) check(c uint64) replayVerdict {
	if !w.any || c > w.highest {
		return replayNew
	}
	if w.highest-c >= WindowSize {
		return replayTooOld
	}
	if w.ring[(c>>blockShift)&blockMaskRB]&(1<<(c&(blockBits-1))) != 0 {
		return replayDuplicate
	}
	return replayNew
}

// accept records c; call it only after c's tag verified. It repeats check,
// since another goroutine may have accepted c in between.
func (w *replayWindow) accept(c uint64) replayVerdict {
	if v := w.check(c); v != replayNew {
		return v
	}
	if !w.any || c > w.highest {
		cur := w.highest >> blockShift
		idx := c >> blockShift
		if !w.any {
			cur = idx
			w.ring[idx&blockMaskRB] = 0
		}
		diff := idx - cur
		if diff > ringBlocks {
			diff = ringBlocks
		}
		for i := uint64(1); i <= diff; i++ {
			w.ring[(cur+i)&blockMaskRB] = 0
		}
		w.highest, w.any = c, true
	}
	w.ring[(c>>blockShift)&blockMaskRB] |= 1 << (c & (blockBits - 1))
	return replayNew
}
