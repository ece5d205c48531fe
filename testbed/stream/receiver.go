package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// MaxRecords caps the arrivals a Receiver records (24 B each) and the pacing
// samples a Sender keeps, whatever the profile says.
const MaxRecords = 1 << 22

// Reader is where a Receiver reads packets: a bound UDP socket
// (*net.UDPConn) or an in-memory fake. One Read is one datagram.
type Reader interface {
	Read(p []byte) (int, error)
}

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// StreamID is the stream to record; other datagrams are counted as foreign.
	StreamID uint32
	// Profile is the stream's profile; it sizes the record buffer.
	Profile Profile
	// Capacity, when not zero, overrides the number of arrivals recorded.
	Capacity int
}

// Receiver records every arrival of one stream: sequence number, send time
// and receive time, in a buffer allocated up front. A Receiver runs once.
type Receiver struct {
	r   Reader
	cfg ReceiverConfig
	ran atomic.Bool
}

// Arrival is one received copy of a packet; times are CLOCK_MONOTONIC ns.
type Arrival struct {
	Seq    uint64
	SentNS int64
	RecvNS int64
}

// Capture is what a Receiver saw.
type Capture struct {
	// Arrivals are the stream's datagrams in arrival order, duplicates
	// included, up to the receiver's capacity.
	Arrivals []Arrival
	// Unrecorded counts the stream's datagrams that arrived after the
	// buffer was full.
	Unrecorded uint64
	// Foreign counts datagrams that were not this stream's.
	Foreign uint64
}

// NewReceiver returns a Receiver of cfg's stream on r.
func NewReceiver(r Reader, cfg ReceiverConfig) (*Receiver, error) {
	if r == nil {
		return nil, errors.New("new receiver: nil reader")
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = CapacityFor(cfg.Profile)
	}
	cfg.Capacity = min(cfg.Capacity, MaxRecords)
	return &Receiver{r: r, cfg: cfg}, nil
}

// CapacityFor returns how many arrivals to record for a stream of profile p:
// its packets plus room for duplicates a path may add.
func CapacityFor(p Profile) int {
	n := p.ExpectedPackets()
	return int(min(n+n/4+64, MaxRecords))
}

// Run records arrivals until ctx ends or the reader is closed; both are a
// normal end. It unblocks a pending Read by setting a read deadline when the
// reader has SetReadDeadline, so give it one (a *net.UDPConn does) or close it.
func (r *Receiver) Run(ctx context.Context) (Capture, error) {
	if r.ran.Swap(true) {
		return Capture{}, errors.New("run receiver: already ran")
	}
	c := Capture{Arrivals: make([]Arrival, 0, r.cfg.Capacity)}
	if d, ok := r.r.(interface{ SetReadDeadline(time.Time) error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetReadDeadline(time.Now()) })
		defer stop()
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.r.Read(buf)
		now := Now()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return c, nil
			}
			return c, fmt.Errorf("receive stream %d: %w", r.cfg.StreamID, err)
		}
		h, err := parseHeader(buf[:n])
		if err != nil || h.streamID != r.cfg.StreamID {
			c.Foreign++
			continue
		}
		if len(c.Arrivals) == cap(c.Arrivals) {
			c.Unrecorded++
			continue
		}
		c.Arrivals = append(c.Arrivals, Arrival{Seq: h.seq, SentNS: h.sentNS, RecvNS: now})
	}
}
