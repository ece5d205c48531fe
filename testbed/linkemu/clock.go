package linkemu

import (
	"time"

	"golang.org/x/sys/unix"
)

// The emulator's clock is Go's monotonic clock in nanoseconds since base:
// cheap (vDSO) and the same one time.Now uses. monoOffset converts it to
// CLOCK_MONOTONIC for the timerfd.
var (
	base       = time.Now()
	monoOffset = calibrateMono()
)

func now() int64 { return int64(time.Since(base)) }

// calibrateMono returns CLOCK_MONOTONIC − now(), from the tightest of a few
// bracketing reads so the error stays within a microsecond or so.
func calibrateMono() int64 {
	var off int64
	best := int64(1 << 62)
	for range 16 {
		var ts unix.Timespec
		a := now()
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			panic("linkemu: read CLOCK_MONOTONIC: " + err.Error())
		}
		b := now()
		if b-a < best {
			best, off = b-a, ts.Nano()-(a+b)/2
		}
	}
	return off
}
