package stream

// schedule yields a profile's packets in send order: each packet's offset
// from the stream start and its size. Audio packet i is due at i/rate, the
// packets of video frame f all at f/fps (back to back); at equal offsets
// audio goes first. Pure and deterministic: the Sender paces by it and
// Analyze replays it to place every sequence number, lost ones included, on
// the time axis.
type schedule struct {
	p          Profile
	audio      uint64 // index of the next audio packet
	audioEnd   uint64 // number of audio packets
	frame      uint64 // index of the next video frame
	frameEnd   uint64 // number of video frames
	inFrame    int    // packets of the current frame already yielded
	emitted    uint64
	maxPackets uint64
}

func newSchedule(p Profile) *schedule {
	s := &schedule{p: p, maxPackets: p.ExpectedPackets()}
	if p.Audio.Rate > 0 {
		s.audioEnd = countBefore(p.Duration, p.Audio.Rate)
	}
	if p.Video.FPS > 0 && p.Video.FramePackets > 0 {
		s.frameEnd = countBefore(p.Duration, p.Video.FPS)
	}
	return s
}

// next returns the next packet's offset in ns and size; ok is false once the
// profile's duration or packet budget is used up.
func (s *schedule) next() (offset int64, size int, ok bool) {
	if s.emitted >= s.maxPackets {
		return 0, 0, false
	}
	haveAudio := s.audio < s.audioEnd
	haveVideo := s.frame < s.frameEnd
	var audioAt, videoAt int64
	if haveAudio {
		audioAt = tick(s.audio, s.p.Audio.Rate)
	}
	if haveVideo {
		videoAt = tick(s.frame, s.p.Video.FPS)
	}
	switch {
	case haveAudio && (!haveVideo || audioAt <= videoAt):
		s.audio++
		offset, size = audioAt, s.p.Audio.Size
	case haveVideo:
		s.inFrame++
		if s.inFrame == s.p.Video.FramePackets {
			s.inFrame = 0
			s.frame++
		}
		offset, size = videoAt, s.p.Video.Size
	default:
		return 0, 0, false
	}
	s.emitted++
	return offset, size, true
}
