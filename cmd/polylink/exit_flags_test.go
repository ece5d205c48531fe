package main

import (
	"os"
	"strings"
	"testing"

	"github.com/polylink/polylink/router"
)

func TestExitFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // "" for accepted
	}{
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--exit"}, "--exit needs --router"},
		{[]string{"--vip", "198.19.0.1/24", "--router", "--exit", "--route", "0.0.0.0/0=198.19.0.2"}, "covers everything"},
		{[]string{"--vip", "198.19.0.1/24", "--router", "--exit", "--route", "198.18.210.0/24=198.19.0.2"}, ""},
		{[]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--route", "0.0.0.0/0=198.19.0.1"}, ""},
	} {
		cfg, err := parseRunFlags(c.args)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v, want accepted", c.args, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != exitUsage):
			t.Errorf("%v: error %v, want a usage error mentioning %q", c.args, err, c.want)
		case c.want == "" && cfg.exit != strings.Contains(strings.Join(c.args, " "), "--exit"):
			t.Errorf("%v: exit = %v", c.args, cfg.exit)
		}
	}
}

// TestExitFromConfigFile: `exit` and `route` work as config keys.
func TestExitFromConfigFile(t *testing.T) {
	file := t.TempDir() + "/pl0.toml"
	body := "vip = \"198.19.0.1/24\"\nrouter = true\nexit = true\nroute = [\"198.18.210.0/24=198.19.0.2\"]\n"
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := parseRunFlags([]string{"--config", file})
	if err != nil || !c.exit || !c.relay || len(c.routes) != 1 {
		t.Fatalf("config file with exit and route: %+v, %v", c, err)
	}
}

// TestRenderRouting: text status shows routes and the exit's counters.
func TestRenderRouting(t *testing.T) {
	d := &statusDoc{TUN: router.TUNStatus{Name: "pl0"},
		Router: router.Status{Routes: []router.RouteStatus{{Prefix: "0.0.0.0/0", Via: "198.19.0.1"}}},
		Exit:   &router.ExitStatus{Table: "polylink-pl0", Masqueraded: 3, Replies: 40, Refused: 2}}
	d.Router.Counters.Exited = 50
	var b strings.Builder
	renderRouting(&b, d)
	for _, want := range []string{"route 0.0.0.0/0 via host 198.19.0.1 (kernel: into pl0)",
		"exit: nftables table ip polylink-pl0  ip_forward OFF", "out 50 packets  masqueraded flows 3  replies in 40  refused in 2"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
