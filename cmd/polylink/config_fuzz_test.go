package main

import (
	"errors"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
)

// fuzzConfigPath is the name errors give the fuzzed file; nothing is read
// from it (configFile.data holds the bytes).
const fuzzConfigPath = "fuzz.toml"

// located is an error that points at a line of the file.
var located = regexp.MustCompile(`^` + regexp.QuoteMeta(fuzzConfigPath) + `:[1-9][0-9]*: `)

// FuzzConfigFile feeds arbitrary bytes to `run --config` as the file's
// content, through every flag's own parser (vip, peer, route, class,
// allow, durations …) and the checks after it: never a panic, either a
// configuration or one usage error line naming the file; an error about
// a key the file sets, or about the file's syntax, names its line.
func FuzzConfigFile(f *testing.F) {
	for _, name := range []string{"../../examples/robot.toml", "../../examples/router.toml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"vip = \"198.19.0.2/24\"\npeer = [\"198.18.0.3\", \"[2001:db8::1]:45820\", \"router.example:45820\"]\n",
		"vip = \"198.19.0.1/24\"\nrouter = true\nexit = true\nroute = [\"198.18.210.0/24=198.19.0.7\"]\nmetrics = \"127.0.0.1:9469\"\n",
		"vip = \"198.19.0.2/24\"\npeer = \"198.18.0.3\"\nclass = [\"bulk:udp:443\", \"realtime:tcp:22\", \"bulk:198.19.1.0/24\"]\nmetered = \"wwan*\"\nmetered-budget = \"2GB\"\n",
		"vip = \"198.19.0.2/24\"\npeer = \"198.18.0.3\"\nprobe = 100\nmax-hosts = 0x10\n",
		"[table]\nvip = 1\n",
		"vip = \"198.19.0.2/24\"\nvip = \"198.19.0.3/24\"\n",
		"a.b = 1\n",
		"peer = [\"198.18.0.3\",\n  1,\n]\n",
		"vip = \"\"\"\n198.19.0.2/24\"\"\"\n",
		"\xff\xfe",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if data == nil {
			data = []byte{} // nil would mean "read the file"
		}
		file := configFile{data: data}
		c, err := parseRunArgs([]string{"--config", fuzzConfigPath}, &file)
		err = file.locate(err)
		if err == nil {
			if !c.vip.IsValid() || (len(c.peers) == 0 && !c.relay) {
				t.Fatalf("accepted without a vip or a peer: %+v", c)
			}
			return
		}
		var ue usageError
		msg := err.Error()
		if !errors.As(err, &ue) || msg == "" || strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("not one usage error line: %T %q", err, msg)
		}
		if !strings.HasPrefix(msg, fuzzConfigPath+":") {
			t.Fatalf("error does not name the file: %q", msg)
		}
		if located.MatchString(msg) {
			return
		}
		// Without a line the error may only be about the values together or
		// a key the file lacks (--vip is required), never about a key the
		// file sets or its syntax.
		names := flagInMessage.FindAllStringSubmatch(msg, -1)
		if len(names) == 0 {
			t.Fatalf("error without a line number: %q", msg)
		}
		for _, m := range names {
			if _, set := file.line[m[1]]; set {
				t.Fatalf("error about --%s, set at line %d, without the line: %q", m[1], file.line[m[1]], msg)
			}
		}
	})
}

// FuzzParsePeer feeds arbitrary --peer values to the parser: never a panic,
// either one usage error line quoting the value or a peer that is exactly
// one of the three forms the help names, which parses back to itself.
func FuzzParsePeer(f *testing.F) {
	for _, s := range []string{
		"198.18.0.3", "198.18.0.3:45820", "[2001:db8::1]:45820", "router.example:45820",
		"2001:db8::1", "::ffff:198.18.0.3", "[::ffff:198.18.0.3]:1", "198.19.0.9", "0.0.0.0:5",
		"224.0.0.1", "host:0", ":45820", "host:65536", "[fe80::1%eth0]:45820", "",
	} {
		f.Add(s)
	}
	vip := netip.MustParsePrefix("198.19.0.2/24")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePeer(s, vip)
		if err != nil {
			var ue usageError
			if msg := err.Error(); !errors.As(err, &ue) || strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "run: --peer ") {
				t.Fatalf("%q: not one usage error line about --peer: %q", s, msg)
			}
			return
		}
		if p.String() != s {
			t.Fatalf("%q: peer shows as %q", s, p)
		}
		if p.name != "" {
			if p.port == 0 || p.addr.IsValid() {
				t.Fatalf("%q: DNS name %q with port %d and address %v", s, p.name, p.port, p.addr)
			}
			return
		}
		a := p.addr.Addr()
		switch {
		case !a.IsValid() || a.Is4In6() || a.IsUnspecified() || a.IsMulticast() || vip.Contains(a):
			t.Fatalf("%q: accepted address %v", s, a)
		case p.addr.Port() == 0 && !a.Is4():
			t.Fatalf("%q: raw IP-in-IP to %v, which is not IPv4", s, a)
		}
		back := p.addr.String()
		if p.addr.Port() == 0 {
			back = a.String()
		}
		if q, err := parsePeer(back, vip); err != nil || q.addr != p.addr || q.name != "" {
			t.Fatalf("%q → %q does not parse back: %+v, %v", s, back, q, err)
		}
	})
}
