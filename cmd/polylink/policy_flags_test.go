package main

import (
	"strings"
	"testing"
	"time"
)

// The policy's settings come from the config file under the flags' names.
func TestPolicyFromConfigFile(t *testing.T) {
	p := writeConfig(t, `vip = "198.19.0.2/24"
peer = "198.18.0.3"
class = ["bulk:udp:443", "realtime:tcp:22"]
metered = ["wwan*", "eth1"]
redundancy = "realtime"
metered-grace = "5s"
second-copy = "30ms"
metered-budget = "1.5GB"
`)
	c, err := parseRunFlags([]string{"--config", p})
	if err != nil {
		t.Fatal(err)
	}
	pol := c.policy.engine()
	var rules []string
	for _, r := range pol.Classifier.Rules() {
		rules = append(rules, r.String())
	}
	if strings.Join(rules, " ") != "bulk:udp:443 realtime:tcp:22" || strings.Join(pol.Metered, ",") != "wwan*,eth1" ||
		pol.CopyAll || pol.MeteredGrace != 5*time.Second || pol.SecondCopy != 30*time.Millisecond || pol.MeteredBudget != 1_500_000_000 {
		t.Fatalf("policy from the file: rules %v, %+v", rules, pol)
	}
	bad := writeConfig(t, "vip = \"198.19.0.2/24\"\npeer = \"198.18.0.3\"\nclass = [\"bulk:udp:70000\"]\n")
	if _, err := parseRunFlags([]string{"--config", bad}); err == nil || !strings.Contains(err.Error(), "--class") {
		t.Fatalf("bad rule in the file: %v", err)
	}
}
