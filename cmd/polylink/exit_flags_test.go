package main

import (
	"strings"
	"testing"
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
