package linkmon_test

import (
	"errors"
	"net"

	"github.com/polylink/polylink/linkmon"
	"go.uber.org/zap"
)

// The consumer drains Events and keeps one reader per socket: Added and a
// Changed with a new socket start one, and a reader ends by itself with
// net.ErrClosed when its socket is replaced or removed.
func ExampleMonitor() {
	m, err := linkmon.New(linkmon.Config{Exclude: []string{"pl0", "docker*"}, Logger: zap.NewExample()})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	readers := make(map[*linkmon.Socket]bool)
	for ev := range m.Events() {
		if ev.Kind == linkmon.Removed || readers[ev.Socket] {
			continue // the Socket is closed, or already read
		}
		readers[ev.Socket] = true
		go func(s *linkmon.Socket) {
			msgs := make([]linkmon.Message, 32)
			for i := range msgs {
				msgs[i].Buf = make([]byte, 2048)
			}
			for {
				n, err := s.ReadBatch(msgs)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				for _, msg := range msgs[:n] {
					_ = msg.Payload // decode the bundle header here
				}
			}
		}(ev.Socket)
	}
}
