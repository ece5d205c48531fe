package stream

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestSenderSendsScheduleNeverEarly(t *testing.T) {
	p := AudioProfile(2000, 100, 100*time.Millisecond)
	var w recorder
	s, err := NewSender(&w, SenderConfig{StreamID: 9, Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 200 || len(w.pkts) != 200 || st.SendErrors != 0 {
		t.Fatalf("sent %d, wrote %d, errors %d; want 200, 200, 0", st.Sent, len(w.pkts), st.SendErrors)
	}
	for k, pkt := range w.pkts {
		h, err := parseHeader(pkt)
		if err != nil || h.streamID != 9 || h.seq != uint64(k) || len(pkt) != 100 {
			t.Fatalf("packet %d: header %+v, %v, %d B", k, h, err, len(pkt))
		}
		due := st.StartNS + int64(k)*500_000
		if h.sentNS < due || w.at[k] < due {
			t.Fatalf("packet %d stamped %d ns, written %d ns before it was due", k, due-h.sentNS, due-w.at[k])
		}
	}
	if st.EndNS < st.StartNS+99*500_000 || st.Pacing.MaxUS < st.Pacing.P99US || st.Pacing.P99US < st.Pacing.P50US {
		t.Errorf("stats inconsistent: %+v", st)
	}
	t.Logf("pacing at 2,000 packet/s against a memory writer: %+v", st.Pacing)
}

func TestSenderVideoBurstSizes(t *testing.T) {
	var w recorder
	s, err := NewSender(&w, SenderConfig{Profile: VideoProfile(30, 4, 1200, 100*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Run(t.Context())
	if err != nil || st.Sent != 12 {
		t.Fatalf("sent %d, %v; want 12 packets (3 frames × 4)", st.Sent, err)
	}
	for k, pkt := range w.pkts {
		if len(pkt) != 1200 {
			t.Errorf("packet %d is %d B, want 1200", k, len(pkt))
		}
	}
}

func TestSenderCountsErrorsAndGoesOn(t *testing.T) {
	w := recorder{fail: func(n int) error {
		if n >= 3 && n < 6 {
			return &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("write", syscall.ENETUNREACH)}
		}
		return nil
	}}
	s, err := NewSender(&w, SenderConfig{Profile: AudioProfile(1000, 50, 10*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 10 || st.SendErrors != 3 || st.ErrorsByReason["ENETUNREACH"] != 3 {
		t.Errorf("sent %d, errors %d by reason %v; want 10, 3, ENETUNREACH:3", st.Sent, st.SendErrors, st.ErrorsByReason)
	}
}

func TestSenderStopsOnCancel(t *testing.T) {
	var w recorder
	s, err := NewSender(&w, SenderConfig{Profile: AudioProfile(100, 50, time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	var st SenderStats
	go func() { st, err = s.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("sender still running 5 s after its context ended")
	}
	if !errors.Is(err, context.DeadlineExceeded) || st.Sent == 0 || st.Sent > 100 {
		t.Errorf("after cancel: sent %d, err %v; want a few packets and DeadlineExceeded", st.Sent, err)
	}
}

func TestSenderStopsOnClosedWriter(t *testing.T) {
	var w closedWriter
	s, err := NewSender(&w, SenderConfig{Profile: AudioProfile(1000, 50, time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Run(t.Context())
	if !errors.Is(err, net.ErrClosed) || w.writes != 1 || st.Sent != 1 {
		t.Errorf("closed writer: err %v, writes %d, sent %d; want ErrClosed after 1", err, w.writes, st.Sent)
	}
	if _, err := s.Run(t.Context()); err == nil {
		t.Error("second Run succeeded, want an error")
	}
}

func TestNewSenderRejectsBadProfile(t *testing.T) {
	if _, err := NewSender(&recorder{}, SenderConfig{Profile: AudioProfile(50, 1, time.Second)}); err == nil {
		t.Error("NewSender accepted a 1-byte packet size")
	}
}
