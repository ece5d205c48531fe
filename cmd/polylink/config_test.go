package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pl0.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFileSetsFlags(t *testing.T) {
	p := writeConfig(t, `# a comment
vip = "198.19.0.2/24"
peer = ["198.18.0.3", "198.18.1.3"]   # two addresses of the router node
probe = "50ms"
router = false
max-hosts = 1_000
exclude = "docker*"
`)
	c, err := parseRunFlags([]string{"--config", p})
	if err != nil {
		t.Fatal(err)
	}
	if c.vip.String() != "198.19.0.2/24" || len(c.peers) != 2 || c.probe != 50*time.Millisecond ||
		c.maxHosts != 1000 || len(c.exclude) != 1 || c.exclude[0] != "docker*" {
		t.Fatalf("from the file: %+v", c)
	}
}

// TestCommandLineWinsOverConfigFile: a flag given on the command line
// replaces the file's value, a repeatable one the file's whole list.
func TestCommandLineWinsOverConfigFile(t *testing.T) {
	p := writeConfig(t, "vip = \"198.19.0.2/24\"\npeer = [\"198.18.0.3\", \"198.18.1.3\"]\nprobe = \"50ms\"\n")
	for _, args := range [][]string{
		{"--config", p, "--probe", "200ms", "--peer", "198.18.7.7"},
		{"--probe", "200ms", "--peer", "198.18.7.7", "--config", p}, // order does not matter
	} {
		c, err := parseRunFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		if c.probe != 200*time.Millisecond || len(c.peers) != 1 || c.peers[0].String() != "198.18.7.7" {
			t.Errorf("%v: probe %v peers %v; want the command line's", args, c.probe, c.peers)
		}
		if c.vip.String() != "198.19.0.2/24" {
			t.Errorf("%v: vip %v; want the file's", args, c.vip)
		}
	}
	// A bad value in the file is no error when the command line replaces it.
	p = writeConfig(t, "vip = \"198.19.0.2/24\"\npeer = \"198.18.0.3\"\nprobe = \"1ms\"\n")
	if _, err := parseRunFlags([]string{"--config", p, "--probe", "20ms"}); err != nil {
		t.Errorf("file's probe overridden: %v", err)
	}
}

// TestConfigFileErrorsNameTheLine: every mistake in a file is one line
// naming the file and the line, exit code 2.
func TestConfigFileErrorsNameTheLine(t *testing.T) {
	const head = "vip = \"198.19.0.2/24\"\npeer = \"198.18.0.3\"\n"
	for _, c := range []struct{ body, want string }{
		{head + "peers = [\"198.18.1.3\"]\n", `:3: unknown key "peers"`},
		{head + "\n\nprob = \"50ms\"\n", `:5: unknown key "prob"; keys are the flag names of 'polylink run -h' (did you mean "probe"?)`},
		{head + "probe = 100\n", `:3: probe: want a duration in quotes`},
		{head + "probe = \"1ms\"\n", `:3: --probe 1ms: want between 10ms and 10s`},
		{head + "probe = \"fast\"\n", `:3: probe = "fast": parse error`},
		{head + "router = \"yes\"\n", `:3: router: want true or false, got a string`},
		{head + "max-hosts = \"many\"\n", `:3: max-hosts: want an integer, got a string`},
		{head + "tun = [\"a\", \"b\"]\n", `:3: tun: takes one value, not an array`},
		{head + "peer = \"198.18.0.4\"\n", `:3: peer is set twice (first at line 2)`},
		{head + "[router]\nx = 1\n", `:3: tables are not used`},
		{head + "log.format = \"json\"\n", `:3: dotted key "log.format"`},
		{head + "config = \"other.toml\"\n", `:3: config: a config file cannot name another one`},
		{head + "port = [\"x\"]\n", `:3: port: takes one value, not an array`},
		{head + "allow = [\"x\"]\n", `:3: --peer-key and --allow need --key FILE`},
		{head + "vip2 = \"x\n", `:3: basic strings cannot have new lines`},
		{"peer = \"198.18.0.3\"\nvip = \"198.19.0.0/24\"\n", `:2: --vip 198.19.0.0/24: need a host address`},
		{"vip = \"198.19.0.2/24\"\npeer = [\"198.18.0.3\", \"banana\"]\n", `:2: --peer "banana": want ADDR (raw IP-in-IP, IPv4)`},
		{"vip = \"198.19.0.2/24\"\n", `: give at least one --peer`},
	} {
		p := writeConfig(t, c.body)
		_, err := parseRunFlags([]string{"--config", p})
		if err == nil || !strings.Contains(err.Error(), p+c.want) {
			t.Errorf("file %q: error %v, want one containing %q", c.body, err, "FILE"+c.want)
			continue
		}
		if exitCode(err) != exitUsage || strings.Contains(err.Error(), "\n") {
			t.Errorf("want one line and exit code %d, got %q", exitUsage, err)
		}
	}
	// Errors about the command line stay about the command line.
	p := writeConfig(t, head)
	if _, err := parseRunFlags([]string{"--config", p, "--probe", "1ms"}); err == nil || strings.Contains(err.Error(), p) {
		t.Errorf("bad --probe on the command line: %v; want an error not naming the file", err)
	}
	if _, err := parseRunFlags([]string{"--config", filepath.Join(t.TempDir(), "missing.toml")}); err == nil ||
		!strings.Contains(err.Error(), "no such file") || exitCode(err) != exitUsage {
		t.Errorf("missing file: %v", err)
	}
}

// TestExampleConfigsAreValid: the commented examples shipped in the repo
// pass check-config.
func TestExampleConfigsAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.toml")
	if len(files) < 2 {
		t.Fatalf("want examples/robot.toml and examples/router.toml, found %v", files)
	}
	for _, f := range files {
		if err := checkConfigCommand([]string{f}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestCheckConfigExitCodes(t *testing.T) {
	good := writeConfig(t, "vip = \"198.19.0.2/24\"\npeer = \"198.18.0.3\"\n")
	bad := writeConfig(t, "vip = \"198.19.0.2/24\"\npeer = \"198.18.0.3\"\nbogus = 1\n")
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"check-config", good}, 0},
		{[]string{"check-config", bad}, exitUsage},
		{[]string{"check-config"}, exitUsage},
		{[]string{"check-config", good, bad}, exitUsage},
	} {
		if got := dispatch(c.args); got != c.want {
			t.Errorf("%v: exit %d, want %d", c.args, got, c.want)
		}
	}
}
