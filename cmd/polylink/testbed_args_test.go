package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

func TestTestbedRunFlagsBeforeOrAfterTheName(t *testing.T) {
	for i, args := range [][]string{
		{"--plot", "x.svg", "lossy"},
		{"lossy", "--plot", "x.svg"},
		{"--plot=x.svg", "lossy", "--json"},
		{"--json", "--plot", "x.svg", "--", "lossy"},
	} {
		ra, err := parseTestbedRunArgs(false, args)
		if err != nil || ra.name != "lossy" || ra.plot != "x.svg" {
			t.Errorf("case %d %v: %+v, %v; want scenario lossy with plot x.svg", i, args, ra, err)
		}
	}
	for i, c := range []struct {
		demo bool
		args []string
		want string
	}{
		{false, nil, "name one scenario"},
		{false, []string{"lossy", "cut"}, "name one scenario"},
		{false, []string{"lossy", "--plot"}, "flag needs an argument"},
		{false, []string{"--bogus", "lossy"}, "flag provided but not defined"},
		{true, []string{"lossy"}, "testbed demo: unexpected argument"},
	} {
		_, err := parseTestbedRunArgs(c.demo, c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != exitUsage {
			t.Errorf("case %d %v: %v; want a usage error mentioning %q", i, c.args, err, c.want)
		}
	}
}

// stderrOf runs fn with os.Stderr going to a pipe and returns what it wrote.
func stderrOf(t *testing.T, fn func()) string { return outputOf(t, &os.Stderr, fn) }

// stdoutOf is stderrOf for os.Stdout.
func stdoutOf(t *testing.T, fn func()) string { return outputOf(t, &os.Stdout, fn) }

// outputOf runs fn with *f going to a pipe (read as it fills, so a long
// output cannot block fn) and returns what it wrote.
func outputOf(t *testing.T, f **os.File, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := *f
	*f = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	fn()
	*f = saved
	w.Close()
	return string(<-done)
}

func TestTestbedHelpIsNoError(t *testing.T) {
	for _, c := range []struct{ cmd, title string }{{"run", "usage of polylink testbed run:"}, {"demo", "usage of polylink testbed demo:"}} {
		var code int
		out := stderrOf(t, func() { code = dispatch([]string{"testbed", c.cmd, "-h"}) })
		if code != 0 || !strings.HasPrefix(out, c.title) || !strings.Contains(out, "-plot") {
			t.Errorf("testbed %s -h: exit %d, output %q; want exit 0 and the flags under %q", c.cmd, code, out, c.title)
		}
	}
	if _, err := parseTestbedRunArgs(false, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("testbed run -h: %v, want help", err)
	}
}
