package main

import (
	"crypto/rand"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polylink/polylink/session"
)

// checkKeyedReload and applyKeyed without a daemon: what is refused and
// why, and what a change does to the node's peers.
func TestKeyedReloadCheckAndApply(t *testing.T) {
	dir := t.TempDir()
	newKey := func(name string) (string, session.PrivateKey) {
		k, err := session.GeneratePrivateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name)
		must(t, os.WriteFile(file, []byte(k.Base64()+"\n"), 0o600))
		return file, k
	}
	own, ownKey := newKey("own.key")
	other, _ := newKey("other.key")
	_, ka := newKey("a.key")
	_, kb := newKey("b.key")
	a, b := ka.PublicKey().String(), kb.PublicKey().String()
	parse := func(args ...string) runConfig {
		c, err := parseRunFlags(append([]string{"--vip", "198.19.0.1/24", "--router"}, args...))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cur := parse("--key", own, "--allow", a+"=198.19.0.2")
	node, err := session.NewNode(session.Config{PrivateKey: ownKey, MaxPeers: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, kk := range planKeyed(cur) {
		if _, err := node.AddPeer(kk.pub, kk.prefixes...); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct {
		next    runConfig
		node    *session.Node
		restart bool
		want    string // in the error; "" for none
	}{
		{parse(), node, true, "keyless and keyed"},
		{parse("--key", other, "--allow", a+"=198.19.0.2"), node, true, "own key"},
		{parse("--key", filepath.Join(dir, "missing.key"), "--allow", a+"=198.19.0.2"), node, false, "missing.key"},
		{parse("--key", own, "--allow", a+"=198.19.0.2", "--allow", a+"=198.19.0.3"), node, false, "already added"},
		{parse("--key", own, "--allow", ownKey.PublicKey().String()+"=198.19.0.3"), node, false, "own key"},
		{parse("--key", own, "--allow", a+"=198.19.0.2", "--allow", b+"=198.19.0.3"), node, false, ""},
	} {
		err := checkKeyedReload(c.node, cur, c.next)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: refused: %v", c.next.args, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: got %v, want an error naming %q", c.next.args, err, c.want)
		case err != nil && errors.Is(err, errNeedsRestart) != c.restart:
			t.Errorf("%v: %v: needs a restart %v, want %v", c.next.args, err, errors.Is(err, errNeedsRestart), c.restart)
		}
	}
	if err := checkKeyedReload(nil, parse(), parse()); err != nil {
		t.Errorf("keyless to keyless: %v", err)
	}
	if len(node.Peers()) != 1 {
		t.Fatalf("checking changed the node: %d peers", len(node.Peers()))
	}

	// A moves to .3 and B, new, takes A's old address: A lets go of it
	// first, and keeps its peer (its sessions).
	peerA := node.Peer(ka.PublicKey())
	var rec keyedRecorder
	next := parse("--key", own, "--allow", a+"=198.19.0.3", "--allow", b+"=198.19.0.2")
	if err := checkKeyedReload(node, cur, next); err != nil {
		t.Fatal(err)
	}
	if changed, err := applyKeyed(node, &rec, next); err != nil || !changed {
		t.Fatalf("apply: changed %v, %v", changed, err)
	}
	peerB := node.Peer(kb.PublicKey())
	if node.Peer(ka.PublicKey()) != peerA || peerB == nil {
		t.Fatal("A's peer was replaced (its sessions lost), or B not added")
	}
	if node.Lookup(addr("198.19.0.2")) != peerB || node.Lookup(addr("198.19.0.3")) != peerA {
		t.Fatalf("after the swap .2 is %v's, .3 %v's", node.Lookup(addr("198.19.0.2")), node.Lookup(addr("198.19.0.3")))
	}
	if rec.calls != 1 || len(rec.hosts) != 2 || rec.hosts[peerA] != addr("198.19.0.3") || rec.hosts[peerB] != addr("198.19.0.2") || rec.gw != nil {
		t.Fatalf("engine told %d times: hosts %v gateway %v", rec.calls, rec.hosts, rec.gw)
	}
	if changed, err := applyKeyed(node, &rec, next); err != nil || changed || rec.calls != 1 {
		t.Fatalf("the same keys again: changed %v, %v, engine told %d times", changed, err, rec.calls)
	}
	// A removed.
	if changed, err := applyKeyed(node, &rec, parse("--key", own, "--allow", b+"=198.19.0.2")); err != nil || !changed {
		t.Fatalf("removing A: changed %v, %v", changed, err)
	}
	if node.Peer(ka.PublicKey()) != nil || node.Lookup(addr("198.19.0.3")) != nil || len(rec.hosts) != 1 || node.Peer(kb.PublicKey()) != peerB {
		t.Fatal("A still a peer after its removal, or B touched")
	}
}

// keyedRecorder records what applyKeyed tells the engine.
type keyedRecorder struct {
	calls int
	hosts map[*session.Peer]netip.Addr
	gw    *session.Peer
}

func (r *keyedRecorder) SetKeyed(hosts map[*session.Peer]netip.Addr, gw *session.Peer) {
	r.calls++
	r.hosts, r.gw = hosts, gw
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
