package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestSamePeerTwiceIsRefused: one peer given twice, on the command line or
// in a file (with the file's line), is one usage error naming both; the
// same address raw and over UDP is accepted, and check-config says what
// it does.
func TestSamePeerTwiceIsRefused(t *testing.T) {
	base := []string{"--vip", "198.19.0.2/24"}
	for _, peers := range [][]string{
		{"198.18.0.3", "198.18.0.3"},
		{"198.18.0.3:45820", "198.18.0.3:45820"},
		{"[2001:db8::3]:45820", "[2001:db8::3]:45820"},
		{"Router.example:45820", "router.example:45820"},
		{"198.18.0.3,198.18.0.3"},
	} {
		args := base
		for _, p := range peers {
			args = append(args, "--peer", p)
		}
		_, err := parseRunFlags(args)
		if err == nil || exitCode(err) != exitUsage || !strings.Contains(err.Error(), "are the same peer") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v; want one usage line saying it is the same peer", peers, err)
		}
	}
	p := writeConfig(t, "vip = \"198.19.0.2/24\"\n\npeer = [\"198.18.0.3\", \"198.18.1.3\", \"198.18.0.3\"]\n")
	_, err := parseRunFlags([]string{"--config", p})
	if err == nil || !regexp.MustCompile(`pl0\.toml:3: .*--peer 198\.18\.0\.3 and --peer 198\.18\.0\.3 are the same peer`).MatchString(err.Error()) {
		t.Errorf("the same peer twice in a file: %v; want the file's peer line", err)
	}

	for _, args := range [][]string{
		append(base, "--peer", "198.18.0.3", "--peer", "198.18.0.3:45820"),
		append(base, "--peer", "198.18.0.3:45820", "--peer", "198.18.0.3:45821"),
		append(base, "--peer", "198.18.0.3", "--peer", "198.18.1.3"),
	} {
		if _, err := parseRunFlags(args); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	p = writeConfig(t, "vip = \"198.19.0.2/24\"\npeer = [\"198.18.0.3\", \"198.18.0.3:45820\"]\n")
	out := stdoutOf(t, func() { err = checkConfigCommand([]string{p}) })
	if err != nil || !strings.Contains(out, "198.18.0.3 raw and UDP (UDP stands by on NICs where raw gets through)") {
		t.Errorf("check-config of a peer raw and UDP: %v, %q", err, out)
	}
}
