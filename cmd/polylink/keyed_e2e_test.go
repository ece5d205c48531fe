package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/linkemu"
	"github.com/polylink/polylink/testbed/stream"
)

// Keyed mode end to end, in the router testbed (router_e2e_test.go): every
// daemon runs with --key; the router allows the two hosts by key and
// virtual address (--allow), the hosts know the router's key (--peer-key).
// Attacks are made from the hosts' namespaces with raw IP-in-IP sockets,
// as anyone on a path could.

// keyPair is a key made by `polylink genkey` and `polylink pubkey`.
type keyPair struct{ file, pub string }

func genKey(t testing.TB, dir, name string) keyPair {
	t.Helper()
	bin := polylinkBinary(t)
	priv, err := exec.Command(bin, "genkey").Output()
	if err != nil {
		t.Fatalf("polylink genkey: %v", err)
	}
	file := filepath.Join(dir, name+".key")
	if err := os.WriteFile(file, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "pubkey")
	cmd.Stdin = bytes.NewReader(priv)
	pub, err := cmd.Output()
	if err != nil {
		t.Fatalf("polylink pubkey: %v", err)
	}
	return keyPair{file: file, pub: strings.TrimSpace(string(pub))}
}

// keyedNet is the router testbed, all keyed.
type keyedNet struct {
	*routerNet
	k0, k1, k2 keyPair
}

func newKeyedRouterNet(t *testing.T, env ...string) *keyedNet {
	t.Helper()
	dir := t.TempDir()
	kn := &keyedNet{k0: genKey(t, dir, "vm0"), k1: genKey(t, dir, "router"), k2: genKey(t, dir, "vm2")}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v) // the daemons inherit it
	}
	kn.routerNet = newRouterNetWith(t,
		[]string{"--key", kn.k1.file, "--allow", kn.k0.pub + "=" + vipVM0, "--allow", kn.k2.pub + "=" + vipVM2},
		[]string{"--key", kn.k0.file, "--peer-key", kn.k1.pub},
		[]string{"--key", kn.k2.file, "--peer-key", kn.k1.pub})
	return kn
}

func TestKeyedRouterStreamWithLossAndCut(t *testing.T) {
	kn := newKeyedRouterNet(t)
	for _, n := range []*node{kn.vm0, kn.vm1, kn.vm2} {
		st := n.status()
		if st.Mode != "keyed" || !st.Keyed.Enabled {
			t.Fatalf("daemon in %s not keyed: mode %q", n.ns.Name, st.Mode)
		}
		for _, h := range st.Hosts {
			if !h.Keyed || h.PublicKey == "" || h.LastHandshakeS < 0 {
				t.Errorf("%s: host %s keyed %v key %q last handshake %.1f s", n.ns.Name, h.VIP, h.Keyed, h.PublicKey, h.LastHandshakeS)
			}
		}
	}
	streamWithLossAndCut(t, kn.routerNet, "keyed")
}

// TestKeylessRouterStreamWithLossAndCut is the same stream keyless: the
// figure keyed mode is held to.
func TestKeylessRouterStreamWithLossAndCut(t *testing.T) {
	rn := newRouterNet(t)
	if m := rn.vm1.status().Mode; m != "unauthenticated" {
		t.Errorf("keyless router's status says mode %q, want unauthenticated", m)
	}
	if !strings.Contains(rn.vm1.out.String(), "keyless mode: unauthenticated") {
		t.Errorf("keyless router did not warn at start:\n%s", rn.vm1.out.String())
	}
	streamWithLossAndCut(t, rn, "keyless")
}

// streamWithLossAndCut streams VM0 → VM2 through the router for 8 s with
// 3 % loss on every link and VM0's first link cut for a second, and checks
// the loss is at the duplication limit and nothing is duplicated.
func streamWithLossAndCut(t *testing.T, rn *routerNet, mode string) {
	const p = 0.03
	for i := range testbed.Nets {
		if err := rn.top.Emulator(i).SetImpairment(linkemu.Impairment{Loss: p}); err != nil {
			t.Fatal(err)
		}
	}
	const streamFor = 8 * time.Second
	wait := runStream(t, rn.vm0ToVM2(t, 6101, streamFor))
	time.Sleep(3 * time.Second)
	const cutFor = time.Second
	rn.top.Emulator(0).SetDown(true) // VM0's first path to the router
	time.Sleep(cutFor)
	rn.top.Emulator(0).SetDown(false)

	o := wait()
	r := o.Analyze(stream.Options{})
	// Two hops, each over two paths losing p each: a packet is lost when
	// both copies of a hop are, 2p² ≈ 0.18 %; during the cut the first hop
	// has one path, p more.
	// The first hop has one path for the cut, the dead interval after it
	// (150 ms) and the proof of the path when it is back: about 300 ms more.
	expected := 2*p*p + p*(cutFor+300*time.Millisecond).Seconds()/streamFor.Seconds()
	n := float64(r.Sent)
	bound := expected + 4*math.Sqrt(expected/n) + 5/n
	st := rn.vm2.status()
	t.Logf("%s A—R—B, %.0f %% loss per link, one link cut %v: sent %d lost %d (%.3f %%, duplication limit ≈ %.3f %%) duplicates %d p50 %.3f ms p99 %.3f ms; VM2 dropped %d copies as duplicates, %d late",
		mode, 100*p, cutFor, r.Sent, r.Lost, 100*r.LossRatio, 100*expected, r.Duplicates, r.Latency.P50, r.Latency.P99,
		st.Counters.DuplicatesDropped, st.Counters.LateDuplicates)
	if r.Sent == 0 || r.Duplicates != 0 || r.LossRatio > bound {
		t.Fatalf("%s stream: sent %d lost %.3f %% duplicates %d; want ≤ %.3f %% and no duplicates", mode, r.Sent, 100*r.LossRatio, r.Duplicates, 100*bound)
	}
	if mode == "keyed" && st.Counters.LateDuplicates != 0 {
		t.Errorf("keyed node counted %d late duplicates: dedup is exact in keyed mode", st.Counters.LateDuplicates)
	}
}

// ipipSocket opens a raw IP-in-IP socket in ns with a receive timeout.
func ipipSocket(t *testing.T, ns *testbed.Namespace) int {
	t.Helper()
	var fd int
	if err := ns.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_IPIP)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

// captured is one bundle packet seen arriving at the router.
type captured struct {
	src  [4]byte
	body []byte // after the outer IPv4 header
}

// capture reads IP-in-IP packets arriving in the socket's namespace for d
// (bounded: at most max packets).
func capture(fd int, d time.Duration, max int) []captured {
	var out []captured
	buf := make([]byte, 4096)
	end := time.Now().Add(d)
	for time.Now().Before(end) && len(out) < max {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil || n < 20 {
			continue
		}
		ihl := int(buf[0]&0x0f) * 4
		if n <= ihl {
			continue
		}
		out = append(out, captured{src: [4]byte(buf[12:16]), body: append([]byte(nil), buf[ihl:n]...)})
	}
	return out
}

// isV2Data reports whether b is a keyed data message.
func isV2Data(b []byte) bool { return len(b) >= 32 && b[2] == 0xb7 && b[3] == 0x24 }

var (
	routerEth0 = &unix.SockaddrInet4{Addr: [4]byte{198, 18, 0, 3}}
	vm0Eth0    = [4]byte{198, 18, 0, 2}
)

// sendAll sends each body from fd to the router's eth0; it returns the
// number sent.
func sendAll(fd int, bodies [][]byte) int {
	sent := 0
	for i, b := range bodies {
		if unix.Sendto(fd, b, 0, routerEth0) == nil {
			sent++
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond) // paced: the socket buffer never overflows
		}
	}
	return sent
}

// observed is what an observer of the router's eth0 recorded of a ping
// with a known payload pattern and a short stream from VM0 to VM2.
type observed struct {
	caps []captured
	data [][]byte // the keyed data messages from VM0's eth0
	at   time.Time
}

var plainNeedle = []byte{0xc0, 0xff, 0xee, 0x15, 0xde, 0xad, 0xbe, 0xef}

func observe(t *testing.T, kn *keyedNet, port int) observed {
	t.Helper()
	capFD := ipipSocket(t, kn.top.Host(testbed.VM1))
	done := make(chan []captured, 1)
	go func() { done <- capture(capFD, 1500*time.Millisecond, 20000) }()
	if out, err := kn.top.Host(testbed.VM0).Run("ping", "-c", "5", "-i", "0.1", "-W", "1", "-p", "c0ffee15deadbeefc0ffee15deadbeef", vipVM2); err != nil {
		t.Fatalf("ping through the keyed router: %v\n%s", err, out)
	}
	wait := runStream(t, kn.vm0ToVM2(t, port, 800*time.Millisecond))
	o := wait()
	ob := observed{caps: <-done, at: time.Now()}
	if r := o.Analyze(stream.Options{}); r.Sent == 0 || r.Lost != 0 {
		t.Fatalf("stream before the replays: sent %d lost %d", r.Sent, r.Lost)
	}
	for _, c := range ob.caps {
		if c.src == vm0Eth0 && isV2Data(c.body) {
			ob.data = append(ob.data, c.body)
		}
	}
	t.Logf("observer at the router captured %d packets, %d keyed data messages from VM0's eth0", len(ob.caps), len(ob.data))
	if len(ob.data) < 100 {
		t.Fatalf("captured only %d data messages", len(ob.data))
	}
	return ob
}

// replay sends the captured data messages again, byte for byte from VM0's
// address, at each delay after the capture, and checks none is delivered.
func (ob observed) replay(t *testing.T, kn *keyedNet, delays ...time.Duration) {
	t.Helper()
	replayFD := ipipSocket(t, kn.top.Host(testbed.VM0))
	for _, at := range delays {
		time.Sleep(time.Until(ob.at.Add(at)))
		before, before2 := kn.vm1.status(), kn.vm2.status()
		sent := sendAll(replayFD, ob.data)
		var after = kn.vm1.status()
		waitFor(t, "the router to count the replays", 3*time.Second, func() bool {
			after = kn.vm1.status()
			return droppedKeyed(after)-droppedKeyed(before) >= uint64(sent)
		})
		after2 := kn.vm2.status()
		t.Logf("replay at +%v: %d sent; router delivered %d more, dropped %d more (duplicates %d); VM2 delivered %d more",
			at, sent, after.Counters.Delivered-before.Counters.Delivered, droppedKeyed(after)-droppedKeyed(before),
			after.Counters.DuplicatesDropped-before.Counters.DuplicatesDropped, after2.Counters.Delivered-before2.Counters.Delivered)
		if d := after.Counters.Delivered - before.Counters.Delivered; d != 0 {
			t.Errorf("replay at +%v: the router delivered %d packets", at, d)
		}
		if d := after2.Counters.Delivered - before2.Counters.Delivered; d != 0 {
			t.Errorf("replay at +%v: VM2 delivered %d packets", at, d)
		}
	}
}

func TestKeyedReplaysAndObserverDeliverNothing(t *testing.T) {
	kn := newKeyedRouterNet(t)
	ob := observe(t, kn, 6102)
	caps := ob.caps
	plain := 0
	for _, c := range caps {
		if bytes.Contains(c.body, plainNeedle) {
			plain++
		}
	}
	if plain != 0 {
		t.Errorf("%d captured packets contain the ping's plaintext pattern", plain)
	}
	ob.replay(t, kn, time.Second, 6*time.Second)

	// The observer, from an address of its own on the path, sends what it
	// captured: no path to it appears, and it receives nothing.
	if _, err := kn.top.Host(testbed.VM0).Run("ip", "addr", "add", "198.18.0.99/24", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	var obsFD int
	if err := kn.top.Host(testbed.VM0).Do(func() (err error) {
		obsFD, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_IPIP)
		if err == nil {
			err = unix.Bind(obsFD, &unix.SockaddrInet4{Addr: [4]byte{198, 18, 0, 99}})
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(obsFD)
	var probes [][]byte
	for _, c := range caps {
		if c.src == vm0Eth0 && len(c.body) > 3 && c.body[2] == 0xb7 {
			probes = append(probes, c.body)
		}
	}
	sendAll(obsFD, probes)
	time.Sleep(300 * time.Millisecond)
	for _, h := range kn.vm1.status().Hosts {
		for _, r := range h.Remotes {
			if r.Addr == "198.18.0.99" {
				t.Errorf("the observer's address became a NIC of host %s", h.VIP)
			}
		}
	}
	if hs := hostVIPs(kn.vm1); len(hs) != 2 {
		t.Errorf("router's hosts after the attacks: %v", hs)
	}
}

// droppedKeyed is everything a keyed node refused: duplicates, replays,
// forgeries and keyless packets.
func droppedKeyed(d statusDoc) uint64 {
	n := d.Counters.DuplicatesDropped + d.Keyed.KeylessDropped + d.Keyed.NotCovered + d.Keyed.WrongHost
	for _, v := range d.Keyed.Dropped {
		n += v
	}
	return n
}

func TestKeyedSpoofedCountersDuringStreamLoseNothing(t *testing.T) {
	kn := newKeyedRouterNet(t)
	capFD := ipipSocket(t, kn.top.Host(testbed.VM1))
	spoofFD := ipipSocket(t, kn.top.Host(testbed.VM0))
	const streamFor = 4 * time.Second
	wait := runStream(t, kn.vm0ToVM2(t, 6103, streamFor))
	before := kn.vm1.status()
	// Sniff each data message VM0 sends and at once send, from VM0's own
	// address, forgeries with the same receiver index and the next
	// counters (a valid-looking header, a garbage body), plus a keyless
	// (v1) data packet naming VM0.
	forged, keyless := 0, 0
	ours := map[[16]byte]bool{} // headers of our forgeries (bounded by the loop)
	buf := make([]byte, 4096)
	v1 := make([]byte, 16+200)
	v1[2], v1[3] = 0xb7, 0x10 // magic, version 1
	copy(v1[8:12], []byte{198, 19, 0, 2})
	end := time.Now().Add(streamFor - 500*time.Millisecond)
	for time.Now().Before(end) && forged < 40000 {
		n, _, err := unix.Recvfrom(capFD, buf, 0)
		if err != nil || n < 20 {
			continue
		}
		ihl := int(buf[0]&0x0f) * 4
		b := buf[ihl:n]
		if [4]byte(buf[12:16]) != vm0Eth0 || !isV2Data(b) || ours[[16]byte(b[:16])] {
			continue // not VM0's, or one of our own forgeries coming back
		}
		f := append([]byte(nil), b...)
		for k := range 4 {
			binary.BigEndian.PutUint64(f[8:16], binary.BigEndian.Uint64(f[8:16])+1) // the next counter
			f[20+k] ^= 0x5a
			ours[[16]byte(f[:16])] = true
			if unix.Sendto(spoofFD, f, 0, routerEth0) == nil {
				forged++
			}
		}
		if unix.Sendto(spoofFD, v1, 0, routerEth0) == nil {
			keyless++
		}
	}
	o := wait()
	r := o.Analyze(stream.Options{})
	after := kn.vm1.status()
	tags := after.Keyed.Dropped["session: authentication failed"] - before.Keyed.Dropped["session: authentication failed"]
	t.Logf("%d forged data messages with sniffed next counters and %d keyless packets from VM0's address during the stream; router refused %d by tag, %d keyless; stream sent %d lost %d duplicates %d",
		forged, keyless, tags, after.Keyed.KeylessDropped-before.Keyed.KeylessDropped, r.Sent, r.Lost, r.Duplicates)
	if forged < 1000 {
		t.Fatalf("only %d forgeries sent", forged)
	}
	if r.Sent == 0 || r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("stream under forged counters: sent %d lost %d duplicates %d; want nothing lost", r.Sent, r.Lost, r.Duplicates)
	}
	if after.Counters.Delivered-before.Counters.Delivered > uint64(r.Sent)+50 {
		t.Errorf("router delivered %d packets for a %d-packet stream", after.Counters.Delivered-before.Counters.Delivered, r.Sent)
	}
	if after.Keyed.KeylessDropped-before.Keyed.KeylessDropped < uint64(keyless)*9/10 {
		t.Errorf("keyless packets: %d sent, %d counted", keyless, after.Keyed.KeylessDropped-before.Keyed.KeylessDropped)
	}
}

// TestKeyedReplayAfterAMinute replays captured data a minute later (the
// keyless seed's ID window forgot after 500 ms): none delivered.
func TestKeyedReplayAfterAMinute(t *testing.T) {
	kn := newKeyedRouterNet(t)
	observe(t, kn, 6107).replay(t, kn, time.Minute)
}
