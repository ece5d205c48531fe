package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const unitFile = "../../contrib/systemd/polylink@.service"

// TestSystemdUnit: the unit in contrib/ runs the daemon unprivileged with
// the two capabilities, reloads with SIGHUP, and passes systemd-analyze
// verify (with the binary path pointed at a real binary) where the tool is
// installed.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW", "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW",
		"User=polylink", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "RuntimeDirectory=polylink",
		"DeviceAllow=/dev/net/tun rw", "--config /etc/polylink/%i.toml", "--tun %i",
	} {
		if !strings.Contains(unit, "\n"+want) && !strings.Contains(unit, " "+want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: checked the directives only")
	}
	dir := t.TempDir()
	bin := polylinkBinary(t)
	p := filepath.Join(dir, "polylink@pl0.service")
	must(t, os.WriteFile(p, []byte(strings.ReplaceAll(unit, "/usr/local/bin/polylink", bin)), 0o644))
	out, err := exec.Command(tool, "verify", "--man=no", p).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
