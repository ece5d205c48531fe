package main

import (
	"encoding/json"
	"testing"
	"time"
)

// TestStatusJSONContract checks every key DESIGN.md promises in
// `polylink status --json`, from a live daemon, as a script would read it.
func TestStatusJSONContract(t *testing.T) {
	tn := newTwoNodes(t)
	waitFor(t, "status with RTTs", 3*time.Second, func() bool {
		for _, h := range tn.na.status().Hosts {
			for _, c := range h.Connections {
				if c.State == 2 && c.RTTMs > 0 {
					return true
				}
			}
		}
		return false
	})
	raw, err := queryControl(tn.na.control)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	has := func(obj any, where string, keys ...string) {
		t.Helper()
		m, ok := obj.(map[string]any)
		if !ok {
			t.Fatalf("%s is not an object: %v", where, obj)
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q", where, k)
			}
		}
	}
	first := func(v any, where string) any {
		t.Helper()
		l, ok := v.([]any)
		if !ok || len(l) == 0 {
			t.Fatalf("%s is not a non-empty list: %v", where, v)
		}
		return l[0]
	}
	has(doc, "status", "tun", "local", "hosts", "counters")
	has(doc["tun"], "tun", "name", "index", "addr")
	has(first(doc["local"], "local"), "local[0]", "name", "index", "addr")
	host := first(doc["hosts"], "hosts")
	has(host, "hosts[0]", "vip", "remotes", "connections")
	has(first(host.(map[string]any)["remotes"], "remotes"), "remotes[0]", "index", "addr")
	has(first(host.(map[string]any)["connections"], "connections"), "connections[0]",
		"local", "local_index", "remote_index", "remote_addr", "state", "rtt_ms", "loss", "jitter_ms",
		"tx_packets", "rx_packets", "first_wins", "last_rx_ms")
	has(doc["counters"], "counters", "tx_packets", "rx_packets", "delivered", "duplicates_dropped",
		"malformed_dropped", "late_duplicates")
	// Added by issue 11 (router trust, per-namespace control socket).
	has(doc, "status", "netns", "router")
	has(doc["router"], "router", "counters")
	has(doc["router"].(map[string]any)["counters"], "router.counters",
		"spoofed_source_dropped", "transit_dropped", "bad_host_addr_dropped")
	// Redundancy where it counts (README): added keys, kept from now on.
	has(doc, "status", "policy", "flows")
	has(doc["policy"], "policy", "redundancy", "rules", "metered")
	has(host, "hosts[0]", "up_paths", "peak_up_paths", "second_copy", "second_copies", "bulk_path")
	has(first(host.(map[string]any)["connections"], "connections"), "connections[0]",
		"metered", "remote_metered", "bulk", "tx_realtime_bytes", "tx_bulk_bytes", "tx_second_copies")
	has(doc["counters"], "counters", "tx_realtime_packets", "tx_bulk_packets", "second_copies")
}
