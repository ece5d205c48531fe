package classify

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseRuleRoundTrip(t *testing.T) {
	for _, s := range []string{
		"bulk:udp:443", "realtime:tcp:22", "bulk:198.19.1.0/24", "bulk:198.19.0.9",
		"realtime:ef", "bulk:udp:5000-5099:cs1", "realtime:af41", "bulk:proto=47", "bulk",
		"realtime:icmp", "bulk:le", "realtime:dscp=13",
	} {
		r, err := ParseRule(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if r.String() != s {
			t.Errorf("%s renders as %s", s, r.String())
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "want realtime or bulk"},
		{"fast:udp", "want realtime or bulk"},
		{"bulk:udp:tcp", "protocol given twice"},
		{"bulk:0", "want a port"},
		{"bulk:70000", "want a port"},
		{"bulk:600-500", "want a port"},
		{"bulk:icmp:80", "only for tcp and udp"},
		{"bulk:af51", "want tcp, udp"},
		{"bulk:dscp=64", "want tcp, udp"},
		{"bulk:1.2.3.4/40", "IPv4 address or prefix"},
		{"bulk:proto=0", "protocol number"},
		{"bulk:1.2.3.4:5.6.7.8", "address given twice"},
	} {
		_, err := ParseRule(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line containing %q", tt.in, err, tt.want)
		}
	}
}

func TestClassJSONRoundTrip(t *testing.T) {
	for _, c := range []Class{RealTime, Bulk} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Class
		if err := json.Unmarshal(b, &back); err != nil || back != c {
			t.Errorf("%s: %s reads back as %v (%v)", c, b, back, err)
		}
	}
	var c Class
	if err := json.Unmarshal([]byte(`"fast"`), &c); err == nil {
		t.Error(`"fast" read as a class`)
	}
}

func TestParseDSCPNames(t *testing.T) {
	for name, want := range map[string]uint8{"ef": 46, "cs1": 8, "cs5": 40, "af11": 10, "af41": 34, "af43": 38, "le": 1, "va": 44, "0": 0, "63": 63} {
		if got, ok := parseDSCP(name); !ok || got != want {
			t.Errorf("%s: %d %v, want %d", name, got, ok, want)
		}
		if got, _ := parseDSCP(strings.TrimPrefix(dscpName(want), "dscp=")); got != want {
			t.Errorf("dscpName(%d) = %s does not parse back", want, dscpName(want))
		}
	}
}
