package main

import (
	"net/netip"
	"strings"
	"testing"
)

// TestMetricsExposure: --metrics on loopback or this node's virtual
// network is quiet; on every address, an uplink's or a name, it warns with
// the address and what to do instead.
func TestMetricsExposure(t *testing.T) {
	vip := netip.MustParsePrefix("198.19.0.2/24")
	for addr, wantWarn := range map[string]bool{
		"127.0.0.1:9469":        false,
		"[::1]:9469":            false,
		"localhost:9469":        false,
		"198.19.0.2:9469":       false,
		"[::ffff:127.0.0.1]:80": false,
		":9469":                 true,
		"0.0.0.0:9469":          true,
		"[::]:9469":             true,
		"198.18.0.2:9469":       true,
		"[2001:db8::2]:9469":    true,
		"metrics.example:9469":  true,
	} {
		w := metricsExposure(addr, vip)
		if (w != "") != wantWarn {
			t.Errorf("--metrics %s: warning %q, want one: %v", addr, w, wantWarn)
			continue
		}
		if wantWarn && (!strings.Contains(w, addr) || !strings.Contains(w, "without authentication") ||
			!strings.Contains(w, "198.19.0.2:PORT") || strings.Contains(w, "\n")) {
			t.Errorf("--metrics %s: warning %q: want one line naming the address, the risk and the virtual address", addr, w)
		}
	}
}

// TestCheckConfigWarnsOfExposedMetrics: check-config accepts a file that
// serves metrics on every address (exit 0) and says so on stderr.
func TestCheckConfigWarnsOfExposedMetrics(t *testing.T) {
	for metrics, want := range map[string]bool{"0.0.0.0:9469": true, "127.0.0.1:9469": false} {
		p := writeConfig(t, "vip = \"198.19.0.2/24\"\npeer = \"198.18.0.3\"\nmetrics = \""+metrics+"\"\n")
		var err error
		out := stderrOf(t, func() { err = checkConfigCommand([]string{p}) })
		if err != nil {
			t.Fatalf("metrics %s: %v", metrics, err)
		}
		if got := strings.Contains(out, "warning: --metrics "+metrics); got != want {
			t.Errorf("metrics %s: stderr %q, want a warning: %v", metrics, out, want)
		}
	}
}
