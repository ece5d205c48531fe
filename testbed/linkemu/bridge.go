package linkemu

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Config configures a bridge: one impairment per direction and the bounds
// shared by both.
type Config struct {
	// AB shapes frames read from port A and written to port B.
	AB Impairment `json:"ab"`
	// BA shapes frames read from port B and written to port A.
	BA Impairment `json:"ba"`
	// Seed makes loss and jitter reproducible: same seed, same decisions for
	// the same sequence of frames. Each direction draws from its own stream.
	Seed uint64 `json:"seed"`
	// MaxQueueFrames bounds the frames waiting per direction; 0 means
	// DefaultMaxQueueFrames.
	MaxQueueFrames int `json:"max_queue_frames,omitempty"`
	// MaxQueueBytes bounds the bytes waiting per direction; 0 means
	// DefaultMaxQueueBytes.
	MaxQueueBytes int `json:"max_queue_bytes,omitempty"`
}

// Default queue bounds per direction: 1.6 s of 10,000 frame/s, at most
// 32 MiB of frames.
const (
	DefaultMaxQueueFrames = 16384
	DefaultMaxQueueBytes  = 32 << 20
)

// Bridge joins two ports with an impaired direction each way. New starts
// one reader goroutine per port and one scheduler per direction; Close
// stops them all.
type Bridge struct {
	a, b   Port
	ab, ba *Direction
	wg     sync.WaitGroup
	once   sync.Once
}

// New bridges ports a and b and starts forwarding. The bridge owns the
// ports: Close closes them, and so does New when it fails.
func New(a, b Port, cfg Config) (*Bridge, error) {
	if cfg.MaxQueueFrames <= 0 {
		cfg.MaxQueueFrames = DefaultMaxQueueFrames
	}
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = DefaultMaxQueueBytes
	}
	ab, err := newDirection("ab", b, cfg.AB, cfg, 1)
	if err != nil {
		return nil, errors.Join(err, a.Close(), b.Close())
	}
	ba, err := newDirection("ba", a, cfg.BA, cfg, 2)
	if err != nil {
		ab.stop()
		return nil, errors.Join(err, a.Close(), b.Close())
	}
	br := &Bridge{a: a, b: b, ab: ab, ba: ba}
	br.wg.Add(2)
	go br.read(a, ab)
	go br.read(b, ba)
	return br, nil
}

// AB returns the direction from port A to port B.
func (br *Bridge) AB() *Direction { return br.ab }

// BA returns the direction from port B to port A.
func (br *Bridge) BA() *Direction { return br.ba }

// SetImpairment gives both directions the same impairment.
func (br *Bridge) SetImpairment(imp Impairment) error {
	if err := br.ab.SetImpairment(imp); err != nil {
		return err
	}
	return br.ba.SetImpairment(imp)
}

// SetDown forces both directions down, or lets their impairments decide.
func (br *Bridge) SetDown(down bool) {
	br.ab.SetDown(down)
	br.ba.SetDown(down)
}

// BridgeStats holds both directions' counters.
type BridgeStats struct {
	AB Stats `json:"ab"`
	BA Stats `json:"ba"`
}

// Stats returns both directions' counters.
func (br *Bridge) Stats() BridgeStats {
	s := BridgeStats{AB: br.ab.Stats(), BA: br.ba.Stats()}
	s.AB.KernelDrops = kernelDrops(br.a)
	s.BA.KernelDrops = kernelDrops(br.b)
	return s
}

func kernelDrops(p Port) uint64 {
	if k, ok := p.(interface{ KernelDrops() uint64 }); ok {
		return k.KernelDrops()
	}
	return 0
}

// readBackoff paces a reader whose port keeps failing (an interface going
// away) so it does not spin.
const readBackoff = time.Millisecond

func (br *Bridge) read(in Port, d *Direction) {
	defer br.wg.Done()
	buf := make([]byte, MaxFrame)
	for {
		n, err := in.ReadFrame(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			d.counters.readErrors.Add(1)
			time.Sleep(readBackoff)
			continue
		}
		d.handle(buf[:n])
	}
}

// Close stops forwarding, drops queued frames and closes both ports.
// Idempotent and safe from any goroutine.
func (br *Bridge) Close() error {
	var err error
	br.once.Do(func() {
		err = errors.Join(br.a.Close(), br.b.Close())
		br.wg.Wait() // readers gone: nothing queues any more
		br.ab.stop()
		br.ba.stop()
		if err != nil {
			err = fmt.Errorf("close bridge ports: %w", err)
		}
	})
	return err
}
