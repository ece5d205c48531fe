package linkemu

import (
	"fmt"
	"sync"
)

// Direction is one way through a bridge: frames read from one port, shaped,
// and written to the other. Its methods are safe for concurrent use.
type Direction struct {
	name string
	out  Port

	mu       sync.Mutex
	shaper   *shaper    // guarded by mu
	queue    timedQueue // guarded by mu
	busy     bool       // guarded by mu; the scheduler is sending frames it popped
	armedAt  int64      // guarded by mu; the timer's expiry, 0 when disarmed
	stopping bool       // guarded by mu

	timer    *wakeTimer
	counters counters
	lateness histogram
	done     chan struct{} // closed when the scheduler has exited
}

func newDirection(name string, out Port, imp Impairment, cfg Config, seed2 uint64) (*Direction, error) {
	if err := imp.Validate(); err != nil {
		return nil, fmt.Errorf("impairment %s: %w", name, err)
	}
	t, err := newWakeTimer()
	if err != nil {
		return nil, err
	}
	d := &Direction{
		name:   name,
		out:    out,
		shaper: newShaper(imp, now(), cfg.Seed, seed2),
		queue:  timedQueue{maxFrames: cfg.MaxQueueFrames, maxBytes: cfg.MaxQueueBytes},
		timer:  t,
		done:   make(chan struct{}),
	}
	go d.schedule()
	return d, nil
}

// Name returns the direction's name, "ab" or "ba".
func (d *Direction) Name() string { return d.name }

// SetImpairment replaces the impairment from now on; its outages count from
// now. Frames already queued keep their due times.
func (d *Direction) SetImpairment(imp Impairment) error {
	if err := imp.Validate(); err != nil {
		return fmt.Errorf("impairment %s: %w", d.name, err)
	}
	d.mu.Lock()
	d.shaper.set(imp, now())
	d.mu.Unlock()
	return nil
}

// Impairment returns the impairment in force.
func (d *Direction) Impairment() Impairment {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.shaper.imp
}

// SetDown forces the direction down (drop everything, queued frames
// included) or lets its impairment decide again.
func (d *Direction) SetDown(down bool) {
	d.mu.Lock()
	d.shaper.down = down
	d.mu.Unlock()
}

// handle shapes one frame read from the ingress port. It runs on that port's
// reader goroutine, the only caller, and does not keep frame.
func (d *Direction) handle(frame []byte) {
	t := now()
	d.counters.framesIn.Add(1)
	d.counters.bytesIn.Add(uint64(len(frame)))

	d.mu.Lock()
	if !d.queue.fits(len(frame)) {
		d.mu.Unlock()
		d.counters.count(dropQueueFull)
		return
	}
	due, v := d.shaper.admit(t, len(frame))
	if v != pass {
		d.mu.Unlock()
		d.counters.count(v)
		return
	}
	if due <= t && d.queue.len() == 0 && !d.busy {
		// Fast path: nothing ahead of it and nothing to wait for. The
		// scheduler stays idle until this goroutine queues something, so
		// sending outside the lock keeps the order.
		d.mu.Unlock()
		d.send(frame)
		return
	}
	d.queue.push(due, getFrame(frame))
	if !d.busy && (d.armedAt == 0 || due < d.armedAt) {
		d.armedAt = due
		d.timer.arm(due)
	}
	d.mu.Unlock()
}

func (d *Direction) send(frame []byte) {
	if err := d.out.WriteFrame(frame); err != nil {
		d.counters.sendErrors.Add(1)
		return
	}
	d.counters.delivered.Add(1)
	d.counters.bytesOut.Add(uint64(len(frame)))
}

// schedulerBatch bounds how many due frames the scheduler takes per lock.
const schedulerBatch = 64

// schedule sends queued frames at their due times. It runs on its own OS
// thread with minimal timer slack, blocked on the timerfd between frames.
func (d *Direction) schedule() {
	defer close(d.done)
	lockThread() // never unlocked: the thread's timer slack was changed
	batch := make([]pending, 0, schedulerBatch)
	for {
		if err := d.timer.wait(); err != nil {
			d.counters.timerErrors.Add(1) // only a closed fd fails; Close is under way
			return
		}
		for {
			d.mu.Lock()
			if d.stopping {
				d.mu.Unlock()
				return
			}
			t := now()
			batch = batch[:0]
			for d.queue.len() > 0 && d.queue.head() <= t && len(batch) < schedulerBatch {
				batch = append(batch, d.queue.pop())
			}
			if len(batch) == 0 {
				d.busy = false
				d.armedAt = 0
				if d.queue.len() > 0 {
					d.armedAt = d.queue.head()
					d.timer.arm(d.armedAt)
				}
				d.mu.Unlock()
				break
			}
			d.busy = true
			down := d.shaper.isDown(t)
			d.mu.Unlock()
			for _, p := range batch {
				if down {
					d.counters.count(dropOutage)
				} else {
					d.lateness.add(now() - p.due)
					d.send(*p.frame)
				}
				putFrame(p.frame)
			}
		}
	}
}

// stop ends the scheduler and drops what is still queued.
func (d *Direction) stop() {
	d.mu.Lock()
	d.stopping = true
	d.timer.arm(0)
	d.mu.Unlock()
	<-d.done
	d.mu.Lock()
	for d.queue.len() > 0 {
		putFrame(d.queue.pop().frame)
	}
	d.mu.Unlock()
	_ = d.timer.close()
}
