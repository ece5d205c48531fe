package linkmon

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// BenchmarkUDPSegmentation measures what UDP GSO (UDP_SEGMENT) and GRO
// (UDP_GRO) would save on a UDP path over a veth, one op being one
// 216-byte datagram (a 200-byte packet behind the bundle header), sender
// and receiver in this process:
//
//   - "one-per-call": one sendmmsg per datagram, as the daemon sends an
//     evenly paced stream (TryWriteTo per copy);
//   - "sendmmsg": 16 datagrams per sendmmsg (WriteBatch);
//   - "gso": 16 datagrams as one send with UDP_SEGMENT, segmented by the
//     kernel;
//   - "gso+gro": the same, received by a socket with UDP_GRO, which takes
//     the 16 segments as one read.
//
// cpu_us/pkt is this process's CPU time (getrusage: the sender's system
// calls, the receive path the kernel runs in them, and the reader) per
// datagram delivered. GSO needs datagrams of the same size to the same
// endpoint at hand at once; the daemon sends each packet as the TUN gives
// it, so this measures the ceiling, not the daemon:
//
//	go test -run '^$' -bench UDPSegmentation -benchtime 200000x ./linkmon
func BenchmarkUDPSegmentation(b *testing.B) {
	const seg, batchLen = 216, 16
	for _, mode := range []string{"one-per-call", "sendmmsg", "gso", "gso+gro"} {
		b.Run(mode, func(b *testing.B) {
			nstest.RequireRoot(b)
			na, nb := nstest.Namespace(b, "pl-lm"), nstest.Namespace(b, "pl-lm")
			nstest.Veth(b, na, "eth0", "198.18.48.1/24", nb, "eth0", "198.18.48.2/24")
			from := openUDPIn(b, na, nicIn(b, na, "eth0", "198.18.48.1"), "198.18.48.1:45820")
			dst := netip.MustParseAddrPort("198.18.48.2:45820")
			var received atomic.Int64
			groReceiver(b, nb, dst, mode == "gso+gro", &received)
			payload := make([]byte, seg*batchLen)
			msgs := make([]UDPMessage, batchLen)
			for i := range msgs {
				msgs[i] = UDPMessage{Payload: payload[i*seg : (i+1)*seg], Addr: dst}
			}
			gsoOOB := make([]byte, unix.CmsgSpace(2))
			h := (*unix.Cmsghdr)(unsafe.Pointer(&gsoOOB[0]))
			h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			h.SetLen(unix.CmsgLen(2))
			binary.NativeEndian.PutUint16(gsoOOB[unix.CmsgLen(0):], seg)
			sfd := plainUDPIn(b, na, netip.MustParseAddrPort("198.18.48.1:45821"), nil)
			sa := &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())}
			var ru0 unix.Rusage
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			for sent := 0; sent < b.N; {
				k := min(batchLen, b.N-sent)
				var err error
				switch mode {
				case "one-per-call":
					err = from.WriteTo(msgs[0].Payload, dst, 0)
					k = 1
				case "sendmmsg":
					_, err = from.WriteBatch(msgs[:k])
				default:
					_, err = unix.SendmsgN(sfd, payload[:k*seg], gsoOOB, sa, 0)
				}
				if err != nil {
					b.Fatal(err)
				}
				sent += k
				// Keep at most 1,024 in flight, so the receive buffer never
				// overflows and the receiver's cost is in the figure.
				for int64(sent)-received.Load() > 1024 {
					time.Sleep(50 * time.Microsecond)
				}
			}
			for deadline := time.Now().Add(time.Second); received.Load() < int64(b.N) && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			var ru1 unix.Rusage
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
			cpu := float64(syscall.TimevalToNsec(syscall.Timeval(ru1.Utime))+syscall.TimevalToNsec(syscall.Timeval(ru1.Stime))-
				syscall.TimevalToNsec(syscall.Timeval(ru0.Utime))-syscall.TimevalToNsec(syscall.Timeval(ru0.Stime))) / 1e3
			got := received.Load()
			b.ReportMetric(cpu/float64(max(got, 1)), "cpu_us/pkt")
			b.ReportMetric(100*float64(got)/float64(b.N), "delivered-%")
		})
	}
}

// plainUDPIn opens a blocking UDP socket in ns bound to at, after setup
// (if not nil) configured it; it is closed when the benchmark ends.
func plainUDPIn(b *testing.B, ns *testbed.Namespace, at netip.AddrPort, setup func(fd int) error) int {
	b.Helper()
	fd := -1
	if err := ns.Do(func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if setup != nil {
			if err := setup(fd); err != nil {
				return err
			}
		}
		return unix.Bind(fd, &unix.SockaddrInet4{Addr: at.Addr().As4(), Port: int(at.Port())})
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	return fd
}

// groReceiver binds a blocking UDP socket in ns on at (with UDP_GRO if
// gro) and counts into received every datagram it reads, a coalesced read
// counting as its segments, until the benchmark ends.
func groReceiver(b *testing.B, ns *testbed.Namespace, at netip.AddrPort, gro bool, received *atomic.Int64) {
	b.Helper()
	fd := plainUDPIn(b, ns, at, func(fd int) error {
		if gro {
			if err := unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO, 1); err != nil {
				return err
			}
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
		// A timeout, so the reader sees the benchmark end.
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})
	})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		oob := make([]byte, 64)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
			if err != nil {
				continue // the timeout, to see stop
			}
			segs := 1
			if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, c := range cms {
					if c.Header.Level == unix.SOL_UDP && c.Header.Type == unix.UDP_GRO && len(c.Data) >= 2 {
						if size := int(binary.NativeEndian.Uint16(c.Data)); size > 0 {
							segs = (n + size - 1) / size
						}
					}
				}
			}
			received.Add(int64(segs))
		}
	}()
	b.Cleanup(func() { close(stop); <-done }) // before the socket's close, registered earlier
}
