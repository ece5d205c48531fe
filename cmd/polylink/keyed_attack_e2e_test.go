package main

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/polylink/polylink/session"
	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/stream"
	"github.com/polylink/polylink/wire"
)

// strangerInitiations has a node with a key of its own knock at the
// router's eth0 n times from VM0's namespace (it knows the router's public
// key, so its mac1 is right) and returns how many handshake responses for
// it came back.
func strangerInitiations(t *testing.T, kn *keyedNet, fd int, claim netip.Prefix, n int) (sent, answered int) {
	t.Helper()
	routerPub, err := session.ParsePublicKey(kn.k1.pub)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := session.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	node, err := session.NewNode(session.Config{PrivateKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := node.AddPeer(routerPub, claim)
	if err != nil {
		t.Fatal(err)
	}
	var buf [wire.InitiationLen]byte
	mine := map[uint32]bool{}
	for range n {
		msg, err := peer.WriteInitiation(buf[:0], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		mine[binary.BigEndian.Uint32(msg[wire.InitSenderOff:])] = true
		if unix.Sendto(fd, msg, 0, routerEth0) == nil {
			sent++
		}
		// Listen a little for an answer (VM0's socket sees every
		// IP-in-IP packet arriving in its namespace).
		for _, c := range capture(fd, 25*time.Millisecond, 1000) {
			b := c.body
			if len(b) == wire.ResponseLen && b[2] == 0xb7 && b[3] == 0x22 && mine[binary.BigEndian.Uint32(b[wire.RespReceiverOff:])] {
				answered++
			}
		}
	}
	return sent, answered
}

func TestKeyedStrangersDoNotGetIn(t *testing.T) {
	kn := newKeyedRouterNet(t)
	fd := ipipSocket(t, kn.top.Host(testbed.VM0))
	wait := runStream(t, kn.vm0ToVM2(t, 6104, 3*time.Second))
	before := kn.vm1.status()
	// A stranger whose key is on no list, then one claiming VM0's
	// virtual address with a key that is not VM0's.
	s1, a1 := strangerInitiations(t, kn, fd, netip.MustParsePrefix("0.0.0.0/0"), 40)
	s2, a2 := strangerInitiations(t, kn, fd, netip.MustParsePrefix(vipVM0+"/32"), 40)
	o := wait()
	r := o.Analyze(stream.Options{})
	after := kn.vm1.status()
	refused := after.Keyed.Dropped["session: key not allowed"] - before.Keyed.Dropped["session: key not allowed"]
	t.Logf("stranger: %d initiations, %d answered; impostor of %s: %d initiations, %d answered; router refused %d as key not allowed; its hosts %v; stream sent %d lost %d",
		s1, a1, vipVM0, s2, a2, refused, hostVIPs(kn.vm1), r.Sent, r.Lost)
	if a1+a2 != 0 {
		t.Errorf("the router answered %d initiations from keys it does not allow", a1+a2)
	}
	if refused < uint64(s1+s2)*9/10 {
		t.Errorf("router refused %d of %d initiations as key not allowed", refused, s1+s2)
	}
	if got := hostVIPs(kn.vm1); len(got) != 2 || got[0] != vipVM0 || got[1] != vipVM2 {
		t.Errorf("router's hosts: %v, want only [%s %s]", got, vipVM0, vipVM2)
	}
	for _, h := range after.Hosts {
		if h.PublicKey != shortKey(kn.k0.pub) && h.PublicKey != shortKey(kn.k2.pub) {
			t.Errorf("router shows host %s with key %s", h.VIP, h.PublicKey)
		}
	}
	if r.Sent == 0 || r.Lost != 0 || r.Duplicates != 0 {
		t.Fatalf("real stream while strangers knocked: sent %d lost %d duplicates %d", r.Sent, r.Lost, r.Duplicates)
	}
}

func shortKey(pub string) string {
	k, err := session.ParsePublicKey(pub)
	if err != nil {
		return ""
	}
	return k.Short()
}

func TestKeyedRekeyAndRouterRestartMidStream(t *testing.T) {
	// Rekey every 200 messages (a test-only knob): at 500 packet/s plus
	// probes, several rekeys a second.
	kn := newKeyedRouterNet(t, testRekeyEnv+"=200")
	const streamFor = 8 * time.Second
	wait := runStream(t, kn.vm0ToVM2(t, 6105, streamFor))
	time.Sleep(3 * time.Second)
	rekeyed := kn.vm1.status()
	// Every keypair must be younger than a second by now.
	for _, h := range rekeyed.Hosts {
		if h.LastHandshakeS < 0 || h.LastHandshakeS > 1.5 {
			t.Errorf("router's host %s: last handshake %.2f s ago; rekeying every 200 messages should keep it under a second", h.VIP, h.LastHandshakeS)
		}
	}
	lostBefore := stream.Now()
	kn.vm1.stop()
	kn.vm1.start()
	back := stream.Now()
	o := wait()
	// What rekeying lost is counted up to well before the stop: packets
	// due just before it may leave late (the sender's measured lateness)
	// and still be in the tunnel when the router stops (a loaded machine
	// saw the stop's first 2 losses counted as rekeying's).
	inFlight := int64(o.Sent.Pacing.MaxUS*1e3) + int64(200*time.Millisecond)
	r := o.Analyze(stream.Options{Windows: []stream.Window{
		stream.WindowSince("before the restart", o.Sent.StartNS, o.Sent.StartNS, lostBefore-inFlight),
		stream.WindowSince("router back + 1 s", o.Sent.StartNS, back+int64(time.Second), o.Sent.EndNS+1),
	}})
	first, last, lost := lostSpan(o)
	resumed := int64(0)
	for _, a := range o.Capture.Arrivals {
		if lost && a.Seq > last {
			resumed = a.RecvNS
			break
		}
	}
	t.Logf("rekey every 200 messages: %d initiations by VM0 so far; stream sent %d lost %d duplicates %d; before the restart sent %d lost %d; router restart: lost seq %d..%d, resumed %v after the router answered status",
		kn.vm0.status().Keyed.Initiations, r.Sent, r.Lost, r.Duplicates, r.Windows[0].Sent, r.Windows[0].Lost, first, last,
		time.Duration(resumed-back).Round(time.Millisecond))
	if w := r.Windows[0]; w.Sent == 0 || w.Lost != 0 {
		t.Errorf("rekeying lost %d of %d packets before the restart", w.Lost, w.Sent)
	}
	if r.Duplicates != 0 {
		t.Errorf("%d duplicates", r.Duplicates)
	}
	if lost && resumed-back > int64(time.Second) {
		t.Errorf("stream resumed %v after the restarted router was back; want within 1 s", time.Duration(resumed-back))
	}
	if w := r.Windows[1]; w.Sent == 0 || w.Lost != 0 {
		t.Fatalf("from 1 s after the router was back: sent %d lost %d; want the stream whole", w.Sent, w.Lost)
	}
}

// TestKeyedAllowedKeyCannotSpeakForAnotherHost: someone holding VM2's
// (allowed) key completes a handshake with the router from VM0's network,
// then claims VM0's address in a sealed probe and sends data with VM0's
// address as inner source: the router refuses both (its key covers only
// VM2's address) and VM0 keeps its place and its key.
func TestKeyedAllowedKeyCannotSpeakForAnotherHost(t *testing.T) {
	kn := newKeyedRouterNet(t)
	fd := ipipSocket(t, kn.top.Host(testbed.VM0))
	raw, err := os.ReadFile(kn.k2.file)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := session.ParsePrivateKey(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	routerPub, _ := session.ParsePublicKey(kn.k1.pub)
	node, _ := session.NewNode(session.Config{PrivateKey: priv})
	router, _ := node.AddPeer(routerPub, netip.MustParsePrefix("0.0.0.0/0"))
	var buf [wire.InitiationLen]byte
	done := false
	for try := 0; try < 20 && !done; try++ {
		msg, err := router.WriteInitiation(buf[:0], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_ = unix.Sendto(fd, msg, 0, routerEth0)
		for _, c := range capture(fd, 100*time.Millisecond, 1000) {
			if len(c.body) != wire.ResponseLen || c.body[3] != 0x22 {
				continue
			}
			path := session.Path{Local: 1, Remote: netip.AddrPortFrom(netip.AddrFrom4(c.src), 0)}
			if r, err := node.Receive(c.body, path, time.Now(), make([]byte, 0, session.ReplyBufferLen)); err == nil && r.HandshakeDone {
				done = true
				break
			}
		}
	}
	if !done {
		t.Fatal("no handshake with VM2's key from VM0's network")
	}
	before := kn.vm1.status()
	var pb [wire.TransportOverhead + wire.ProbeV2Len]byte
	var db [wire.TransportOverhead + 64]byte
	for i := range 20 {
		pr := wire.ProbeV2{Seq: uint32(i + 1), SendTime: 1, SrcPath: 2, Host: netip.MustParseAddr(vipVM0)}
		_ = pr.Encode(pb[wire.TransportHeaderLen:])
		if m, err := router.Seal(pb[:wire.TransportHeaderLen+wire.ProbeV2Len], wire.MsgProbe, time.Now()); err == nil {
			_ = unix.Sendto(fd, m, 0, routerEth0)
		}
		inner := db[wire.TransportHeaderLen : wire.TransportHeaderLen+48]
		inner[0], inner[3], inner[8], inner[9] = 0x45, 48, 64, 17
		copy(inner[12:16], netip.MustParseAddr(vipVM0).AsSlice())
		copy(inner[16:20], netip.MustParseAddr(vipRouter).AsSlice())
		if m, err := router.Seal(db[:wire.TransportHeaderLen+48], wire.MsgData, time.Now()); err == nil {
			_ = unix.Sendto(fd, m, 0, routerEth0)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var after statusDoc
	waitFor(t, "the router to refuse the claims", 3*time.Second, func() bool {
		after = kn.vm1.status()
		return after.Keyed.WrongHost-before.Keyed.WrongHost >= 10 && after.Keyed.NotCovered-before.Keyed.NotCovered >= 10
	})
	t.Logf("VM2's key claiming %s from VM0's network: router refused %d probes (wrong host) and %d data packets (source not covered); delivered %d more",
		vipVM0, after.Keyed.WrongHost-before.Keyed.WrongHost, after.Keyed.NotCovered-before.Keyed.NotCovered,
		after.Counters.Delivered-before.Counters.Delivered)
	if d := after.Counters.Delivered - before.Counters.Delivered; d != 0 {
		t.Errorf("the router delivered %d packets during the attack", d)
	}
	for _, h := range after.Hosts {
		if h.VIP == vipVM0 && h.PublicKey != shortKey(kn.k0.pub) {
			t.Errorf("router shows %s with key %s, want VM0's %s", vipVM0, h.PublicKey, shortKey(kn.k0.pub))
		}
		for _, r := range h.Remotes {
			if h.VIP == vipVM2 && strings.HasPrefix(r.Addr, "198.18.0.") {
				t.Logf("note: VM2's key from VM0's network taught the router a path %s for VM2 (a key holder may roam)", r.Addr)
			}
		}
	}
	if got := hostVIPs(kn.vm1); len(got) != 2 || got[0] != vipVM0 || got[1] != vipVM2 {
		t.Errorf("router's hosts: %v", got)
	}
}
