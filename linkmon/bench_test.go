package linkmon

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

// benchPair opens a sender in A and a draining receiver in B across one
// veth (198.18.47.1 → 198.18.47.2) and returns the sender, the destination
// and the receiver's packet count.
func benchPair(b *testing.B) (*Socket, netip.Addr, *atomic.Int64) {
	b.Helper()
	na := nstest.Namespace(b, "pl-lm")
	nb := nstest.Namespace(b, "pl-lm")
	var received atomic.Int64
	from, dst := benchLink(b, na, nb, 0, &received)
	return from, dst, &received
}

// benchLink joins A and B with veth eth<i> (198.18.47.<16i+1>/28 →
// 198.18.47.<16i+2>/28), starts a receiver in B that counts into
// received, and returns A's sender and the destination.
func benchLink(b *testing.B, na, nb *testbed.Namespace, i int, received *atomic.Int64) (*Socket, netip.Addr) {
	b.Helper()
	ifname := fmt.Sprintf("eth%d", i)
	src, dst := fmt.Sprintf("198.18.47.%d", 16*i+1), fmt.Sprintf("198.18.47.%d", 16*i+2)
	nstest.Veth(b, na, ifname, src+"/28", nb, ifname, dst+"/28")
	from := openIn(b, na, nicIn(b, na, ifname, src))
	to := openIn(b, nb, nicIn(b, nb, ifname, dst))
	before := received.Load()
	done := make(chan struct{})
	go func() {
		defer close(done)
		msgs := make([]Message, maxBatch)
		for i := range msgs {
			msgs[i].Buf = make([]byte, 2048)
		}
		for {
			n, err := to.ReadBatch(msgs)
			if err != nil {
				return // closed at cleanup
			}
			received.Add(int64(n))
		}
	}()
	b.Cleanup(func() { to.Close(); <-done })
	// One packet first, so ARP is resolved before the clock starts.
	to4 := netip.MustParseAddr(dst)
	if err := from.WriteTo([]byte("warm-up"), to4); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(waitFor); received.Load() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("warm-up packet never arrived")
		}
	}
	received.Add(-1)
	return from, to4
}

// report sets packets sent per second and, once the receiver has gone
// quiet, the share of them it got (veth drops what the receiver's backlog
// cannot hold; the kernel does not report those to a raw sender).
func report(b *testing.B, sent int, received *atomic.Int64) {
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "pkts/s")
	last := int64(-1)
	for deadline := time.Now().Add(time.Second); received.Load() != last && time.Now().Before(deadline); {
		last = received.Load()
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportMetric(100*float64(received.Load())/float64(max(sent, 1)), "delivered-%")
}

var benchSizes = []struct {
	name string
	size int
}{{"100B", 100}, {"1200B", 1200}}

// BenchmarkWriteTo sends one packet per system call; one op is one packet.
func BenchmarkWriteTo(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			from, dst, received := benchPair(b)
			payload := make([]byte, sz.size)
			b.ReportAllocs()
			for b.Loop() {
				if err := from.WriteTo(payload, dst); err != nil {
					b.Fatal(err)
				}
			}
			report(b, b.N, received)
		})
	}
}

// BenchmarkWriteBatch sends 32 packets per sendmmsg; one op is one packet.
func BenchmarkWriteBatch(b *testing.B) {
	const batchLen = 32
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			from, dst, received := benchPair(b)
			payload := make([]byte, sz.size)
			msgs := make([]Message, batchLen)
			for i := range msgs {
				msgs[i] = Message{Payload: payload, Addr: dst}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for sent := 0; sent < b.N; {
				n, err := from.WriteBatch(msgs[:min(batchLen, b.N-sent)])
				if err != nil {
					b.Fatal(err)
				}
				sent += n
			}
			b.StopTimer()
			report(b, b.N, received)
		})
	}
}

// BenchmarkWriteBatchTwoNICs is the data path's fan-out: one writer per
// NIC, each sending 32 packets of 1200 bytes per sendmmsg, as polylink
// copies every packet onto two paths. One op is one copy.
func BenchmarkWriteBatchTwoNICs(b *testing.B) {
	const batchLen = 32
	na := nstest.Namespace(b, "pl-lm")
	nb := nstest.Namespace(b, "pl-lm")
	var received atomic.Int64
	payload := make([]byte, 1200)
	var writers [2]func(int) error
	for i := range writers {
		from, dst := benchLink(b, na, nb, i, &received)
		msgs := make([]Message, batchLen)
		for k := range msgs {
			msgs[k] = Message{Payload: payload, Addr: dst}
		}
		writers[i] = func(count int) error {
			for sent := 0; sent < count; {
				n, err := from.WriteBatch(msgs[:min(batchLen, count-sent)])
				if err != nil {
					return err
				}
				sent += n
			}
			return nil
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make([]error, len(writers))
	for i, write := range writers {
		wg.Go(func() { errs[i] = write(b.N / len(writers)) })
	}
	wg.Wait()
	b.StopTimer()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	report(b, b.N/len(writers)*len(writers), &received)
}

// BenchmarkAddressToAddedEvent measures, per op, the time from adding an
// address to an up NIC to the monitor's Added event (then removes it
// again). The median goes in the add-to-added-µs metric.
func BenchmarkAddressToAddedEvent(b *testing.B) {
	nsB, pb0, hb := oneVeth(b)
	m, err := New(Config{Namespace: nsB.Handle()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	addr := mustAddr(b, "198.18.44.2/24")
	next := func(kind EventKind) {
		select {
		case ev := <-m.Events():
			if ev.Kind != kind {
				b.Fatalf("got %v, want %v", ev, kind)
			}
		case <-time.After(waitFor):
			b.Fatalf("no %v event within %v", kind, waitFor)
		}
	}
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := hb.AddrAdd(pb0, addr); err != nil {
			b.Fatal(err)
		}
		next(Added)
		took = append(took, time.Since(start))
		if err := hb.AddrDel(pb0, addr); err != nil {
			b.Fatal(err)
		}
		next(Removed)
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "add-to-added-µs")
}
