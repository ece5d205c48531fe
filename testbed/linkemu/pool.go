package linkemu

import "sync"

// smallFrame is the pooled buffer size: any frame of a 1500-byte MTU fits.
// Larger frames (offloads left on) get a buffer of their own.
const smallFrame = 2048

var framePool = sync.Pool{New: func() any { b := make([]byte, smallFrame); return &b }}

// getFrame returns a buffer holding a copy of frame. Its one owner is the
// queue entry until the scheduler sends it and calls putFrame.
func getFrame(frame []byte) *[]byte {
	if len(frame) > smallFrame {
		b := append([]byte(nil), frame...)
		return &b
	}
	b := framePool.Get().(*[]byte)
	*b = append((*b)[:0], frame...)
	return b
}

func putFrame(b *[]byte) {
	if cap(*b) == smallFrame {
		framePool.Put(b)
	}
}
