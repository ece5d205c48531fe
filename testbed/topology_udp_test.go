package testbed_test

import (
	"encoding/binary"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
)

func slicesSort(s []string) { slices.Sort(s) }

// arrival is one datagram the receiver got: its sequence number, when it
// was sent and when it arrived (the same clock: both ends are this process).
type arrival struct {
	seq          uint32
	sent, arrive time.Time
}

// udpSockets opens a receiver on toAddr:9100 in to and a sender bound to
// fromAddr in from.
func udpSockets(t *testing.T, from *testbed.Namespace, fromAddr string, to *testbed.Namespace, toAddr string) (tx, rx *net.UDPConn) {
	t.Helper()
	if err := to.Do(func() (err error) {
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(toAddr), Port: 9100})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rx.Close() })
	_ = rx.SetReadBuffer(4 << 20)
	if err := from.Do(func() (err error) {
		tx, err = net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(fromAddr)}, &net.UDPAddr{IP: net.ParseIP(toAddr), Port: 9100})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Close() })
	return tx, rx
}

// stream sends n datagrams of size bytes every gap (bursts when the clock
// falls behind) and returns what arrived, stopping quiet after the last.
func stream(t *testing.T, tx, rx *net.UDPConn, n, size int, gap, quiet time.Duration) []arrival {
	t.Helper()
	got := make(chan []arrival, 1)
	go func() {
		var out []arrival
		buf := make([]byte, 65536)
		for {
			_ = rx.SetReadDeadline(time.Now().Add(quiet))
			k, err := rx.Read(buf)
			if err != nil {
				got <- out
				return
			}
			if k >= 12 {
				out = append(out, arrival{
					seq:    binary.BigEndian.Uint32(buf),
					sent:   time.Unix(0, int64(binary.BigEndian.Uint64(buf[4:]))),
					arrive: time.Now(),
				})
			}
		}
	}()
	payload := make([]byte, max(size, 12))
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * gap)); d > 0 {
			time.Sleep(d)
		}
		binary.BigEndian.PutUint32(payload, uint32(i))
		binary.BigEndian.PutUint64(payload[4:], uint64(time.Now().UnixNano()))
		if _, err := tx.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
	return <-got
}

// udpExchange sends n datagrams each way between the two addresses and
// returns how many made the round trip (sent, then echoed).
func udpExchange(t *testing.T, from *testbed.Namespace, fromAddr string, to *testbed.Namespace, toAddr string, n int) int {
	t.Helper()
	tx, rx := udpSockets(t, from, fromAddr, to, toAddr)
	defer tx.Close()
	defer rx.Close() // ends the echo goroutine
	go func() {      // echo
		buf := make([]byte, 2048)
		for {
			k, addr, err := rx.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = rx.WriteToUDP(buf[:k], addr)
		}
	}()
	buf := make([]byte, 2048)
	ok := 0
	for i := range n {
		binary.BigEndian.PutUint32(buf, uint32(i))
		if _, err := tx.Write(buf[:100]); err != nil {
			t.Fatal(err)
		}
		_ = tx.SetReadDeadline(time.Now().Add(time.Second))
		if k, err := tx.Read(buf); err == nil && k == 100 && binary.BigEndian.Uint32(buf) == uint32(i) {
			ok++
		}
	}
	return ok
}
