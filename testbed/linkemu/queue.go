package linkemu

// pending is a frame waiting for its due time.
type pending struct {
	due   int64
	seq   uint64 // arrival order: equal due times leave first-in first-out
	frame *[]byte
}

// timedQueue is a min-heap of pending frames by (due, seq), bounded in
// frames and bytes. Without reordering due times only grow, so it behaves
// as a FIFO; with reordering a frame may overtake. Not safe for concurrent
// use.
type timedQueue struct {
	heap      []pending
	bytes     int
	maxFrames int
	maxBytes  int
	seq       uint64
}

// fits reports whether a frame of size bytes may be queued.
func (q *timedQueue) fits(size int) bool {
	return len(q.heap) < q.maxFrames && q.bytes+size <= q.maxBytes
}

func (q *timedQueue) len() int { return len(q.heap) }

// head returns the earliest due time; only valid when len() > 0.
func (q *timedQueue) head() int64 { return q.heap[0].due }

func (q *timedQueue) push(due int64, frame *[]byte) {
	q.seq++
	q.heap = append(q.heap, pending{due: due, seq: q.seq, frame: frame})
	q.bytes += len(*frame)
	q.up(len(q.heap) - 1)
}

// pop removes and returns the earliest frame.
func (q *timedQueue) pop() pending {
	h := q.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = pending{}
	q.heap = h[:last]
	if last > 0 {
		q.down(0)
	}
	q.bytes -= len(*top.frame)
	return top
}

func (q *timedQueue) less(i, j int) bool {
	a, b := &q.heap[i], &q.heap[j]
	return a.due < b.due || (a.due == b.due && a.seq < b.seq)
}

func (q *timedQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			return
		}
		q.heap[i], q.heap[p] = q.heap[p], q.heap[i]
		i = p
	}
}

func (q *timedQueue) down(i int) {
	n := len(q.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q.heap[i], q.heap[m] = q.heap[m], q.heap[i]
		i = m
	}
}
