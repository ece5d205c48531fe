package main

import (
	"flag"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/router"
	"github.com/polylink/polylink/session"
	"github.com/polylink/polylink/wire"
)

// Keyed mode on the command line (docs/keyed-protocol.md):
//
//	--key FILE       this node's private key (polylink genkey; mode 600)
//	--peer-key PUB   the key of the node reached through --peer: ONE key for
//	                 all --peer addresses, which are that one node's NICs
//	                 (a host's router, or the other end of a pair). Its key
//	                 covers every address (it is the gateway: it relays
//	                 what no --allow key owns).
//	--allow PUB=VIP  a host that may join, bound to its virtual address; its
//	                 key also covers the --route prefixes whose next hop is
//	                 VIP (repeatable)
//
// With --key every packet is keyed (wire v2) and keyless ones are dropped.
// Without it the node is keyless (wire v1): it warns at start and status
// says "unauthenticated".

// keyedArgs are the raw keyed flags.
type keyedArgs struct {
	key      string
	peerKeys listFlag
	allows   listFlag
}

// keyedConfig is the validated keyed part of runConfig.
type keyedConfig struct {
	keyFile string
	peerKey session.PublicKey // zero: none
	allows  []allowed
}

type allowed struct {
	pub session.PublicKey
	vip netip.Addr
}

func (k keyedConfig) enabled() bool { return k.keyFile != "" }

// registerKeyedFlags adds --key, --peer-key and --allow to run's flags.
func registerKeyedFlags(fs *flag.FlagSet, a *keyedArgs) {
	fs.StringVar(&a.key, "key", "", "this node's private key file (from 'polylink genkey', mode 600): keyed mode, only keyed hosts get in")
	fs.Var(&a.peerKeys, "peer-key", "public key of the node reached through --peer (one key for all --peer addresses)")
	fs.Var(&a.allows, "allow", "PUB=VIP: a host that may join with key PUB as virtual address VIP (repeatable)")
}

// parseKeyed validates the keyed flags against the rest of c.
func parseKeyed(c *runConfig, a *keyedArgs, fs *flag.FlagSet) error {
	k := &c.keyed
	if a.key == "" {
		if len(a.peerKeys) > 0 || len(a.allows) > 0 {
			return usagef("run: --peer-key and --allow need --key FILE (this node's private key, from 'polylink genkey')")
		}
		return nil
	}
	k.keyFile = a.key
	switch {
	case len(a.peerKeys) > 1:
		return usagef("run: --peer-key given %d times: all --peer addresses are one node's, give its key once", len(a.peerKeys))
	case len(a.peerKeys) == 1:
		pub, err := session.ParsePublicKey(a.peerKeys[0])
		if err != nil {
			return usagef("run: --peer-key %q: %v", a.peerKeys[0], err)
		}
		if len(c.peers) == 0 {
			return usagef("run: --peer-key needs --peer (the addresses of the node that key belongs to)")
		}
		k.peerKey = pub
	case len(c.peers) > 0:
		return usagef("run: --key with --peer needs --peer-key PUB (the public key of the node at the --peer addresses)")
	}
	seen := map[netip.Addr]bool{}
	for _, s := range a.allows {
		// Split at the last '=': base64 keys end in '=' padding.
		i := strings.LastIndexByte(s, '=')
		ok := i > 0
		pubS, vipS := s[:max(i, 0)], s[i+1:]
		pub, err := session.ParsePublicKey(strings.TrimSpace(pubS))
		if !ok || err != nil {
			return usagef("run: --allow %q: want PUB=VIP, PUB a public key from 'polylink pubkey'", s)
		}
		vip, err := netip.ParseAddr(strings.TrimSpace(vipS))
		if err != nil || !router.ValidHostAddr(c.vip, vip) || vip == c.vip.Addr() {
			return usagef("run: --allow %q: VIP must be another host address of the virtual network %s", s, c.vip.Masked())
		}
		if seen[vip] {
			return usagef("run: --allow: %s given twice: one key per address", vip)
		}
		seen[vip] = true
		k.allows = append(k.allows, allowed{pub, vip})
	}
	if k.peerKey.IsZero() && len(k.allows) == 0 {
		return usagef("run: --key alone lets nobody in: add --peer-key PUB (with --peer) or --allow PUB=VIP")
	}
	mtuSet := false
	fs.Visit(func(f *flag.Flag) { mtuSet = mtuSet || f.Name == "mtu" })
	if !mtuSet {
		c.mtu -= wire.TagLen // keyed messages carry a 16-byte tag more
	}
	return nil
}

// testRekeyEnv shortens rekeying to every N messages: a test-only knob, so
// tests can show that rekeying loses nothing without waiting 2 minutes.
const testRekeyEnv = "POLYLINK_TEST_REKEY_AFTER_MESSAGES"

// buildKeyed loads the key and the allowed peers for the engine; nil when
// the node is keyless.
func buildKeyed(c runConfig) (*aggregator.Keyed, error) {
	k := c.keyed
	if !k.enabled() {
		return nil, nil
	}
	priv, err := loadKeyFile(k.keyFile)
	if err != nil {
		return nil, usagef("run: %v", err)
	}
	// A restarted peer (it forgot our keypair) is noticed after this much
	// silence under the current keypair; probes answer every interval, so
	// five unanswered intervals mean it is gone or restarted.
	silence := max(5*c.probe, 250*time.Millisecond)
	cfg := session.Config{PrivateKey: priv, SilenceRekey: silence, MaxPeers: max(c.maxHosts, len(k.allows)+1)}
	if v := os.Getenv(testRekeyEnv); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil && n > 0 {
			cfg.RekeyAfterMessages = n
		}
	}
	node, err := session.NewNode(cfg)
	if err != nil {
		return nil, err
	}
	out := &aggregator.Keyed{Node: node, Hosts: map[*session.Peer]netip.Addr{}, SilenceRekey: silence}
	for _, kk := range planKeyed(c) {
		p, err := node.AddPeer(kk.pub, kk.prefixes...)
		if err != nil {
			return nil, usagef("run: %s: %v", kk.flag, err)
		}
		if kk.vip.IsValid() {
			out.Hosts[p] = kk.vip
		} else {
			out.Gateway = p
		}
	}
	return out, nil
}

// keyedPeerPlan is one allowed key as the configuration has it.
type keyedPeerPlan struct {
	pub      session.PublicKey
	vip      netip.Addr // invalid: the gateway (--peer-key)
	prefixes []netip.Prefix
	flag     string // how the command line gave it, for errors
}

// planKeyed lists the keys c allows and the prefixes each covers: an
// --allow host its address and the --route prefixes via it, the
// --peer-key node everything (it is the gateway).
func planKeyed(c runConfig) []keyedPeerPlan {
	var out []keyedPeerPlan
	for _, a := range c.keyed.allows {
		prefixes := []netip.Prefix{netip.PrefixFrom(a.vip, 32)}
		for _, r := range c.routes {
			if r.Via == a.vip {
				prefixes = append(prefixes, r.Prefix)
			}
		}
		out = append(out, keyedPeerPlan{pub: a.pub, vip: a.vip, prefixes: prefixes, flag: "--allow " + a.pub.String() + "=" + a.vip.String()})
	}
	if pk := c.keyed.peerKey; !pk.IsZero() {
		out = append(out, keyedPeerPlan{pub: pk, prefixes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, flag: "--peer-key"})
	}
	return out
}

// keyedNode is k's node, nil when keyless.
func keyedNode(k *aggregator.Keyed) *session.Node {
	if k == nil {
		return nil
	}
	return k.Node
}
