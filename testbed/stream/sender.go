package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Writer is where a Sender puts packets: a connected UDP socket
// (*net.UDPConn) or an in-memory fake. One Write is one datagram.
type Writer interface {
	Write(p []byte) (int, error)
}

// SenderConfig configures a Sender.
type SenderConfig struct {
	// StreamID tells this stream's packets from others' at a Receiver.
	StreamID uint32
	// Profile is the traffic to send.
	Profile Profile
	// Start is the CLOCK_MONOTONIC time (see Now) packet 0 is due; zero means
	// when Run starts. Streams given one Start share a time axis, so outage
	// windows and plots line up across them.
	Start int64
}

// Sender sends one stream's packets on a Writer, each at its scheduled time.
// A Sender runs once.
type Sender struct {
	w   Writer
	cfg SenderConfig
	ran atomic.Bool
}

// SenderStats is what a Sender did.
type SenderStats struct {
	// StreamID and Profile repeat the configuration.
	StreamID uint32  `json:"stream_id"`
	Profile  Profile `json:"profile"`
	// StartNS is when packet 0 was due (CLOCK_MONOTONIC ns); EndNS is when
	// the last packet was sent.
	StartNS int64 `json:"start_ns"`
	EndNS   int64 `json:"end_ns"`
	// Sent counts packets the Sender tried to send, failed writes included:
	// a write refused because a link is down is a packet the medium lost.
	Sent uint64 `json:"sent"`
	// SendErrors counts failed writes; ErrorsByReason splits them by errno
	// name (e.g. "ENETUNREACH") or message.
	SendErrors     uint64            `json:"send_errors"`
	ErrorsByReason map[string]uint64 `json:"send_errors_by_reason,omitempty"`
	// Pacing is how late packets left against their schedule.
	Pacing Pacing `json:"pacing"`
}

// Pacing summarises send time minus scheduled time over a stream's packets,
// in microseconds (JSON "p50_us", "p99_us", "max_us").
type Pacing struct {
	P50US float64 `json:"p50_us"`
	P99US float64 `json:"p99_us"`
	MaxUS float64 `json:"max_us"`
}

// NewSender returns a Sender of cfg's stream on w.
func NewSender(w Writer, cfg SenderConfig) (*Sender, error) {
	if err := cfg.Profile.Validate(); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, errors.New("new sender: nil writer")
	}
	return &Sender{w: w, cfg: cfg}, nil
}

// Run sends the stream and returns when its duration or packet budget is used
// up, when ctx ends (returning ctx's error with the stats so far) or when the
// writer is closed. Failed writes are counted and the stream goes on. A
// packet found late (the process was descheduled) goes at once, and so do
// the packets due meanwhile: a catch-up burst no larger than the delay.
// When ctx ends, a Writer with SetWriteDeadline (a *net.UDPConn) is given a
// deadline in the past so that a blocked write returns.
func (s *Sender) Run(ctx context.Context) (SenderStats, error) {
	if s.ran.Swap(true) {
		return SenderStats{}, errors.New("run sender: already ran")
	}
	st := SenderStats{StreamID: s.cfg.StreamID, Profile: s.cfg.Profile}
	expected := s.cfg.Profile.ExpectedPackets()
	buf := make([]byte, max(s.cfg.Profile.Audio.Size, s.cfg.Profile.Video.Size))
	lateness := make([]int64, 0, min(expected, MaxRecords))

	// A write blocked on a full socket buffer must not outlive ctx.
	if d, ok := s.w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetWriteDeadline(time.Now()) })
		defer stop()
	}

	p := newPacer()
	defer p.release()

	st.StartNS = s.cfg.Start
	if st.StartNS == 0 {
		st.StartNS = Now()
	}
	sched := newSchedule(s.cfg.Profile)
	var runErr error
	for seq := uint64(0); ; seq++ {
		offset, size, ok := sched.next()
		if !ok {
			break
		}
		due := st.StartNS + offset
		if err := p.waitUntil(ctx, due); err != nil {
			runErr = err
			break
		}
		now := Now()
		putHeader(buf, header{streamID: s.cfg.StreamID, seq: seq, sentNS: now})
		_, err := s.w.Write(buf[:size])
		st.Sent++
		st.EndNS = now
		if len(lateness) < cap(lateness) {
			lateness = append(lateness, now-due)
		}
		if err != nil {
			if ctx.Err() != nil {
				st.Sent-- // cut off by our own deadline, not by the network
				runErr = ctx.Err()
				break
			}
			st.countError(err)
			if errors.Is(err, net.ErrClosed) {
				runErr = fmt.Errorf("send stream %d: %w", s.cfg.StreamID, err)
				break
			}
		}
	}
	st.Pacing = summarisePacing(lateness)
	return st, runErr
}

func (st *SenderStats) countError(err error) {
	st.SendErrors++
	if st.ErrorsByReason == nil {
		st.ErrorsByReason = make(map[string]uint64)
	}
	st.ErrorsByReason[errorReason(err)]++
}

// errorReason names an error compactly: its errno's symbolic name if it has
// one (syscall.Errno.Error gives prose that differs between systems).
func errorReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
		return errno.Error()
	}
	return err.Error()
}

func summarisePacing(lateness []int64) Pacing {
	if len(lateness) == 0 {
		return Pacing{}
	}
	slices.Sort(lateness)
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return Pacing{
		P50US: us(nearestRank(lateness, 50)),
		P99US: us(nearestRank(lateness, 99)),
		MaxUS: us(lateness[len(lateness)-1]),
	}
}
