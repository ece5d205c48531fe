package stream

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

type slot struct {
	offset int64
	size   int
}

func drain(p Profile) []slot {
	var out []slot
	s := newSchedule(p)
	for {
		off, size, ok := s.next()
		if !ok {
			return out
		}
		out = append(out, slot{off, size})
	}
}

func TestScheduleAudio(t *testing.T) {
	got := drain(AudioProfile(50, 160, 100*time.Millisecond))
	want := []slot{{0, 160}, {20e6, 160}, {40e6, 160}, {60e6, 160}, {80e6, 160}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audio schedule = %v, want %v", got, want)
	}
}

func TestScheduleVideoFramesAreBursts(t *testing.T) {
	got := drain(VideoProfile(30, 3, 1200, 100*time.Millisecond))
	const frame = 33_333_333 // 1/30 s, truncated to ns, not accumulated
	want := []slot{
		{0, 1200}, {0, 1200}, {0, 1200},
		{frame, 1200}, {frame, 1200}, {frame, 1200},
		{2 * frame, 1200}, {2 * frame, 1200}, {2 * frame, 1200},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("video schedule = %v, want %v", got, want)
	}
}

func TestScheduleCombinedInterleavesAudioFirst(t *testing.T) {
	p := Profile{
		Audio:    Audio{Rate: 50, Size: 160},
		Video:    Video{FPS: 30, FramePackets: 2, Size: 1000},
		Duration: 50 * time.Millisecond,
	}
	got := drain(p)
	want := []slot{{0, 160}, {0, 1000}, {0, 1000}, {20e6, 160}, {33_333_333, 1000}, {33_333_333, 1000}, {40e6, 160}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("combined schedule = %v, want %v", got, want)
	}
	if n := p.ExpectedPackets(); n != uint64(len(want)) {
		t.Errorf("ExpectedPackets = %d, want %d", n, len(want))
	}
}

func TestScheduleMaxPackets(t *testing.T) {
	p := AudioProfile(1000, 100, time.Second)
	p.MaxPackets = 7
	if got := drain(p); len(got) != 7 || got[6].offset != 6e6 {
		t.Errorf("capped schedule = %v, want 7 packets ending at 6 ms", got)
	}
}

func TestScheduleDoesNotDrift(t *testing.T) {
	// 3 packet/s: 1/3 s is not a whole number of ns; offsets come from the
	// index, so packet 3000 is still exactly at 1000 s.
	s := newSchedule(AudioProfile(3, 100, 1001*time.Second))
	var last int64
	for range 3001 {
		last, _, _ = s.next()
	}
	if last != 1000e9 {
		t.Errorf("packet 3000 at %d ns, want 1000e9", last)
	}
}

func TestExpectedPacketsBoundaries(t *testing.T) {
	for _, tc := range []struct {
		p    Profile
		want uint64
	}{
		{AudioProfile(1000, 100, 20*time.Millisecond), 20},
		{AudioProfile(1000, 100, 20*time.Millisecond+1), 21},
		{AudioProfile(10000, 100, 2*time.Second), 20000},
		{VideoProfile(30, 4, 1200, time.Second), 120},
		{VideoProfile(30, 4, 1200, time.Second+1), 124},
	} {
		if got := tc.p.ExpectedPackets(); got != tc.want {
			t.Errorf("%+v: ExpectedPackets = %d, want %d", tc.p, got, tc.want)
		}
		if got := uint64(len(drain(tc.p))); got != tc.want {
			t.Errorf("%+v: schedule yields %d, want %d", tc.p, got, tc.want)
		}
	}
}

func TestFramePackets(t *testing.T) {
	// 1 Mbit/s at 30 fps is 4,167 B per frame: 4 packets of 1,200 B.
	if got := FramePackets(1e6, 30, 1200); got != 4 {
		t.Errorf("FramePackets(1 Mbit/s, 30, 1200) = %d, want 4", got)
	}
	if got := FramePackets(0, 30, 1200); got != 1 {
		t.Errorf("FramePackets(0, …) = %d, want 1", got)
	}
}

func TestProfileValidate(t *testing.T) {
	if err := AudioProfile(50, 160, time.Second).Validate(); err != nil {
		t.Errorf("valid audio profile: %v", err)
	}
	for _, tc := range []struct {
		p    Profile
		want string
	}{
		{Profile{Duration: time.Second}, "no audio rate"},
		{AudioProfile(50, 160, 0), "duration"},
		{AudioProfile(50, 10, time.Second), "packet size 10"},
		{AudioProfile(1e6, 160, time.Second), "audio rate"},
		{VideoProfile(30, 0, 1200, time.Second), "packets per frame"},
	} {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Validate() = %v, want an error mentioning %q", tc.p, err, tc.want)
		}
	}
}
