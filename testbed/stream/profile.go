package stream

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// MaxSize is the largest UDP payload a Profile may ask for.
const MaxSize = 65507

// maxRate bounds packets per second per component: far above any real-time
// medium, low enough that a typo cannot turn a test into a flood.
const maxRate = 100_000

// Profile describes one stream: its traffic shape (audio, video or both) and
// its length. A packet's size is its UDP payload, header included.
//
// JSON keys: "audio" {"rate_pps", "size_bytes"}, "video" {"fps",
// "frame_packets", "size_bytes"} (each omitted when unused), "duration_ns",
// "max_packets" (omitted when 0).
type Profile struct {
	// Audio is the constant-rate component; a zero Rate means none.
	Audio Audio `json:"audio,omitzero"`
	// Video is the frame-burst component; a zero FPS means none.
	Video Video `json:"video,omitzero"`
	// Duration bounds the stream: packets are scheduled in [0, Duration).
	Duration time.Duration `json:"duration_ns"`
	// MaxPackets, when not zero, stops the stream after that many packets.
	MaxPackets uint64 `json:"max_packets,omitempty"`
}

// Audio is a constant-rate stream of equal packets, like an audio codec
// emitting one packet every 20 ms (50 packet/s × 160 B).
type Audio struct {
	// Rate is the number of packets per second.
	Rate float64 `json:"rate_pps"`
	// Size is each packet's UDP payload in bytes.
	Size int `json:"size_bytes"`
}

// Video is a stream of frames, each a burst of packets sent back to back, like
// a 30 fps video encoder.
type Video struct {
	// FPS is the number of frames per second.
	FPS float64 `json:"fps"`
	// FramePackets is the number of packets per frame.
	FramePackets int `json:"frame_packets"`
	// Size is each packet's UDP payload in bytes.
	Size int `json:"size_bytes"`
}

// AudioProfile returns a constant-rate profile: rate packets per second of
// size bytes for d.
func AudioProfile(rate float64, size int, d time.Duration) Profile {
	return Profile{Audio: Audio{Rate: rate, Size: size}, Duration: d}
}

// VideoProfile returns a frame-burst profile: fps frames per second, each
// framePackets packets of size bytes, for d.
func VideoProfile(fps float64, framePackets, size int, d time.Duration) Profile {
	return Profile{Video: Video{FPS: fps, FramePackets: framePackets, Size: size}, Duration: d}
}

// FramePackets returns how many packets of size bytes a frame needs to carry
// bitsPerSecond at fps frames per second (at least one).
func FramePackets(bitsPerSecond, fps float64, size int) int {
	if fps <= 0 || size <= 0 {
		return 1
	}
	return max(1, int(math.Ceil(bitsPerSecond/8/fps/float64(size))))
}

// Validate reports what is wrong with the profile, if anything.
func (p Profile) Validate() error {
	var errs []error
	if p.Audio.Rate == 0 && p.Video.FPS == 0 {
		errs = append(errs, errors.New("no audio rate and no video fps"))
	}
	if p.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %v: must be positive", p.Duration))
	}
	if p.Audio.Rate != 0 {
		if !(p.Audio.Rate > 0 && p.Audio.Rate <= maxRate) {
			errs = append(errs, fmt.Errorf("audio rate %v packet/s: want (0, %d]", p.Audio.Rate, maxRate))
		}
		errs = append(errs, checkSize("audio", p.Audio.Size))
	}
	if p.Video.FPS != 0 {
		if !(p.Video.FPS > 0 && p.Video.FPS <= 1000) {
			errs = append(errs, fmt.Errorf("video fps %v: want (0, 1000]", p.Video.FPS))
		}
		if p.Video.FramePackets < 1 || p.Video.FPS*float64(p.Video.FramePackets) > maxRate {
			errs = append(errs, fmt.Errorf("video %d packets per frame: want at least 1 and at most %d packet/s",
				p.Video.FramePackets, maxRate))
		}
		errs = append(errs, checkSize("video", p.Video.Size))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid stream profile: %w", err)
	}
	return nil
}

func checkSize(what string, size int) error {
	if size < HeaderSize || size > MaxSize {
		return fmt.Errorf("%s packet size %d B: want [%d, %d]", what, size, HeaderSize, MaxSize)
	}
	return nil
}

// ExpectedPackets returns how many packets the profile schedules.
func (p Profile) ExpectedPackets() uint64 {
	var n uint64
	if p.Audio.Rate > 0 {
		n += countBefore(p.Duration, p.Audio.Rate)
	}
	if p.Video.FPS > 0 && p.Video.FramePackets > 0 {
		n += countBefore(p.Duration, p.Video.FPS) * uint64(p.Video.FramePackets)
	}
	if p.MaxPackets > 0 {
		n = min(n, p.MaxPackets)
	}
	return n
}

// Bitrate returns the profile's UDP payload rate in bits per second.
func (p Profile) Bitrate() float64 {
	return 8 * (p.Audio.Rate*float64(p.Audio.Size) +
		p.Video.FPS*float64(p.Video.FramePackets*p.Video.Size))
}

// tick returns the offset of event i of a series at perSecond events per
// second: computed from i, never accumulated, so the series does not drift.
func tick(i uint64, perSecond float64) int64 {
	return int64(float64(i) * 1e9 / perSecond)
}

// countBefore returns how many events of a perSecond series fall in [0, d).
func countBefore(d time.Duration, perSecond float64) uint64 {
	if d <= 0 {
		return 0
	}
	n := uint64(math.Ceil(float64(d) * perSecond / 1e9))
	for n > 0 && tick(n-1, perSecond) >= int64(d) {
		n--
	}
	for tick(n, perSecond) < int64(d) {
		n++
	}
	return n
}
