package main

import (
	"fmt"
	"strings"

	"github.com/polylink/polylink/aggregator"
)

// renderMode says whether the node is keyed or unauthenticated.
func renderMode(b *strings.Builder, d *statusDoc) {
	if !d.Keyed.Enabled {
		b.WriteString("mode: unauthenticated (keyless, wire v1): anyone reaching this node can join; run with --key\n")
		return
	}
	k := d.Keyed
	fmt.Fprintf(b, "mode: keyed  key %s  %d allowed keys", k.PublicKey, k.AllowedKeys)
	var drops uint64
	for _, n := range k.Dropped {
		drops += n
	}
	drops += k.KeylessDropped + k.NotCovered + k.WrongHost
	if drops > 0 {
		fmt.Fprintf(b, "  refused %d (keyless %d, not covered %d)", drops, k.KeylessDropped, k.NotCovered)
	}
	b.WriteString("\n")
}

// renderHostKey shows a keyed host's key and handshake age.
func renderHostKey(b *strings.Builder, h *aggregator.HostStatus) {
	if h.PublicKey == "" {
		return
	}
	state := "keyed"
	if !h.Keyed {
		state = "no keypair"
	}
	last := "never"
	if h.LastHandshakeS >= 0 {
		last = fmt.Sprintf("%.1f s ago", h.LastHandshakeS)
	}
	fmt.Fprintf(b, "  key %s  %s  last handshake %s\n", h.PublicKey, state, last)
}
