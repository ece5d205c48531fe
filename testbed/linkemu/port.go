package linkemu

// Port is one side of a bridge: a source and sink of whole Ethernet frames.
// A bridge owns its ports: it reads from each on one goroutine, writes to
// each from up to two (the peer's reader and a scheduler), and closes them.
type Port interface {
	// ReadFrame blocks until a frame arrives and copies it into buf,
	// returning its length. After Close it returns net.ErrClosed.
	ReadFrame(buf []byte) (int, error)
	// WriteFrame sends one frame; it does not keep frame.
	WriteFrame(frame []byte) error
	// Close unblocks ReadFrame and releases the port. Idempotent.
	Close() error
}

// MaxFrame is the largest frame a port reads: a full 64 KiB GSO/GRO frame
// fits, though the testbed turns those offloads off.
const MaxFrame = 65536 + 14
