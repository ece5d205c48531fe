package main

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/session"
)

// Keyed settings on reload (SIGHUP). --peer-key, --allow and the --route
// prefixes an --allow key covers apply live: a new key may join at once, a
// dropped key's sessions end at once (its packets are refused from then
// on, counted as an unknown index), a key whose prefixes changed keeps its
// sessions, and every key left as it was keeps its host, paths and
// sessions untouched, so a stream between unchanged hosts loses nothing.
//
// This node's own key (--key) does not change live; the reload is refused
// with a line saying so. The key is who the node is to every peer: its
// peers allow it by that key, so a node that switched alone would be
// refused by all of them at its next handshake, and rotating it is a
// change on both ends anyway (docs/deploy.md, key rotation). A restart
// with the new key makes every peer handshake afresh within a second.
// Switching between keyless and keyed mode changes every packet's format
// and is refused too.

// errNeedsRestart marks a keyed change that only a restart can make.
var errNeedsRestart = errors.New("needs a restart")

// checkKeyedReload tells whether next's keyed settings can replace those
// of the running node (nil when it is keyless): nil if so, else why not;
// errors.Is(err, errNeedsRestart) for a change only a restart can make.
// It changes nothing: a reload it refuses leaves every key as it was.
func checkKeyedReload(node *session.Node, cur, next runConfig) error {
	switch {
	case cur.keyed.enabled() != next.keyed.enabled():
		return fmt.Errorf("switching between keyless and keyed mode (--key) %w: every packet's format changes", errNeedsRestart)
	case node == nil:
		return nil
	}
	priv, err := loadKeyFile(next.keyed.keyFile)
	if err != nil {
		return err
	}
	if !priv.PublicKey().Equal(node.PublicKey()) {
		return fmt.Errorf("this node's own key (--key %s) changed; that %w: the peers allow this node by its old key until their --allow or --peer-key changes too (see docs/deploy.md, key rotation)",
			next.keyed.keyFile, errNeedsRestart)
	}
	// The same checks as at start, on a scratch node: a key allowed
	// twice, two keys for one prefix, this node's own key, too many keys.
	scratch, err := session.NewNode(session.Config{PrivateKey: priv, MaxPeers: node.MaxPeers()})
	if err != nil {
		return err
	}
	for _, kk := range planKeyed(next) {
		if _, err := scratch.AddPeer(kk.pub, kk.prefixes...); err != nil {
			return fmt.Errorf("%s: %v", kk.flag, err)
		}
	}
	return nil
}

// keyedSetter is the engine's side of a key change (*aggregator.Engine).
type keyedSetter interface {
	SetKeyed(hosts map[*session.Peer]netip.Addr, gateway *session.Peer)
}

var _ keyedSetter = (*aggregator.Engine)(nil)

// applyKeyed brings the node's peers and the engine's keyed hosts to
// next (checked by checkKeyedReload). It reports whether anything changed.
func applyKeyed(node *session.Node, eng keyedSetter, next runConfig) (bool, error) {
	want := map[session.PublicKey]keyedPeerPlan{}
	for _, kk := range planKeyed(next) {
		want[kk.pub] = kk
	}
	have := map[session.PublicKey]*session.Peer{}
	for _, p := range node.Peers() {
		have[p.PublicKey()] = p
	}
	changed := false
	for pub := range have {
		if _, ok := want[pub]; !ok {
			node.RemovePeer(pub) // first: its prefixes are free for others below
			changed = true
		}
	}
	// A kept key with other prefixes lets go of its old ones before any
	// key takes its new ones, so two keys may swap addresses.
	var moved []keyedPeerPlan
	for pub, kk := range want {
		if p := have[pub]; p != nil && !slices.Equal(p.Allowed(), masked(kk.prefixes)) {
			if err := node.SetAllowed(pub); err != nil {
				return true, err
			}
			moved = append(moved, kk)
		}
	}
	for pub, kk := range want {
		if have[pub] == nil {
			if _, err := node.AddPeer(pub, kk.prefixes...); err != nil {
				return true, fmt.Errorf("%s: %v", kk.flag, err)
			}
			changed = true
		}
	}
	for _, kk := range moved {
		if err := node.SetAllowed(kk.pub, kk.prefixes...); err != nil {
			return true, fmt.Errorf("%s: %v", kk.flag, err)
		}
		changed = true
	}
	if !changed {
		return false, nil
	}
	hosts := map[*session.Peer]netip.Addr{}
	var gw *session.Peer
	for pub, kk := range want {
		if p := node.Peer(pub); kk.vip.IsValid() {
			hosts[p] = kk.vip
		} else {
			gw = p
		}
	}
	eng.SetKeyed(hosts, gw)
	return true, nil
}

func masked(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = p.Masked()
	}
	return out
}
