package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	crand "crypto/rand"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/session"
	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/stream"
	"github.com/polylink/polylink/wire"
)

// rssKiB is a process's resident memory from /proc.
func rssKiB(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// forgedInitiations are initiations with a right mac1 (the router's public
// key is public), made once by a stranger key and sent many times: the
// worst a flood can do without a key the router allows.
func forgedInitiations(t *testing.T, routerPub string, n int) [][]byte {
	t.Helper()
	pub, err := session.ParsePublicKey(routerPub)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := session.GeneratePrivateKey(crand.Reader)
	node, _ := session.NewNode(session.Config{PrivateKey: priv})
	peer, err := node.AddPeer(pub, netip.MustParsePrefix("198.19.0.77/32"))
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		m, err := peer.WriteInitiation(make([]byte, 0, wire.InitiationLen), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

func TestKeyedHandshakeFloodWhileStreaming(t *testing.T) {
	kn := newKeyedRouterNet(t)
	inits := forgedInitiations(t, kn.k1.pub, 64)
	// A raw socket that writes its own IPv4 header: every initiation from
	// a different forged source address of VM0's subnet.
	var fd int
	if err := kn.top.Host(testbed.VM0).Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	const (
		rate     = 100_000 // forged initiations per second
		floodFor = 5 * time.Second
		perTick  = rate / 1000 // per millisecond
	)
	wait := runStream(t, kn.vm0ToVM2(t, 6106, floodFor+2*time.Second))
	time.Sleep(500 * time.Millisecond)
	pid := kn.vm1.cmd.Process.Pid
	rss0, cpu0 := rssKiB(pid), cpuSeconds(pid)
	before := kn.vm1.status()
	pkt := make([]byte, 20+wire.InitiationLen)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, 4 // IPv4, TTL 64, IP-in-IP
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	copy(pkt[16:20], []byte{198, 18, 0, 3})
	rng := rand.New(rand.NewPCG(3, 4))
	dst := &unix.SockaddrInet4{Addr: [4]byte{198, 18, 0, 3}}
	sent, errs, rss1 := 0, 0, rss0
	start := time.Now()
	for tick := 0; time.Since(start) < floodFor; tick++ {
		for range perTick {
			copy(pkt[12:16], []byte{198, 18, 0, byte(100 + rng.IntN(150))}) // forged source
			copy(pkt[20:], inits[rng.IntN(len(inits))])
			if unix.Sendto(fd, pkt, 0, dst) == nil {
				sent++
			} else {
				errs++
			}
		}
		if d := time.Until(start.Add(time.Duration(tick+1) * time.Millisecond)); d > 0 {
			time.Sleep(d)
		}
		if tick%500 == 0 {
			rss1 = max(rss1, rssKiB(pid))
		}
	}
	took := time.Since(start)
	cpu := cpuSeconds(pid) - cpu0
	rss1 = max(rss1, rssKiB(pid))
	after := kn.vm1.status()
	o := wait()
	r := o.Analyze(stream.Options{})
	drops := func(d statusDoc) (n uint64) {
		for _, v := range d.Keyed.Dropped {
			n += v
		}
		return n
	}
	t.Logf("flood: %d forged initiations from forged sources in %v (%.0f/s, %d send errors); router refused %d, sent %d cookie replies, %v; CPU %.2f s/s; RSS %d → %d KiB (max); stream sent %d lost %d duplicates %d",
		sent, took.Round(time.Millisecond), float64(sent)/took.Seconds(), errs, drops(after)-drops(before),
		after.Keyed.Replies-before.Keyed.Replies, after.Keyed.Dropped, cpu/took.Seconds(), rss0, rss1, r.Sent, r.Lost, r.Duplicates)
	if r.Sent == 0 || r.Lost != 0 || r.Duplicates != 0 {
		t.Errorf("stream under the flood: sent %d lost %d duplicates %d; want nothing lost", r.Sent, r.Lost, r.Duplicates)
	}
	if rss1 > rss0+16*1024 {
		t.Errorf("router's memory grew from %d to %d KiB under the flood", rss0, rss1)
	}
	if c := cpu / took.Seconds(); c > 1.0 {
		t.Errorf("router used %.2f CPU-seconds per second under the flood; want it bounded below one core", c)
	}
	if hs := hostVIPs(kn.vm1); len(hs) != 2 {
		t.Errorf("router's hosts after the flood: %v", hs)
	}
}
