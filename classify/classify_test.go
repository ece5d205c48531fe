package classify

import (
	"testing"
)

func TestClassifyDefaults(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		want Class
		ok   bool
	}{
		{"1 udp media", pkt(ProtoUDP, 0, vmA, vmB, 5004, 5004, 0, 200), RealTime, true},
		{"2 tcp upload", pkt(ProtoTCP, 0, vmA, vmB, 40000, 5201, 0, 1400), Bulk, true},
		{"3 icmp ping", pkt(ProtoICMP, 0, vmA, vmB, 0, 0, 0, 84), RealTime, true},
		{"4 tcp marked EF", pkt(ProtoTCP, DSCPEF, vmA, vmB, 1, 2, 0, 100), RealTime, true},
		{"5 tcp marked AF41", pkt(ProtoTCP, DSCPAF41, vmA, vmB, 1, 2, 0, 100), RealTime, true},
		{"6 tcp marked AF43", pkt(ProtoTCP, DSCPAF43, vmA, vmB, 1, 2, 0, 100), RealTime, true},
		{"7 tcp marked CS4", pkt(ProtoTCP, DSCPCS4, vmA, vmB, 1, 2, 0, 100), RealTime, true},
		{"8 tcp marked CS5", pkt(ProtoTCP, DSCPCS5, vmA, vmB, 1, 2, 0, 100), RealTime, true},
		{"9 udp marked CS1", pkt(ProtoUDP, DSCPCS1, vmA, vmB, 1, 2, 0, 100), Bulk, true},
		{"10 udp marked LE", pkt(ProtoUDP, DSCPLE, vmA, vmB, 1, 2, 0, 100), Bulk, true},
		{"11 udp marked AF11 stays udp's", pkt(ProtoUDP, 10, vmA, vmB, 1, 2, 0, 100), RealTime, true},
		{"12 tcp later fragment", pkt(ProtoTCP, 0, vmA, vmB, 0, 0, 185, 100), Bulk, true},
		{"13 not ipv4", append([]byte{0x60}, make([]byte, 40)...), RealTime, false},
		{"14 short", []byte{0x45, 0}, RealTime, false},
		{"15 ihl past end", append([]byte{0x4f}, make([]byte, 30)...), RealTime, false},
		{"16 other protocol (gre)", pkt(47, 0, vmA, vmB, 0, 0, 0, 60), RealTime, true},
	}
	var c Classifier
	for _, tt := range tests {
		got, _, ok := c.Classify(tt.pkt)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: got %v ok=%v, want %v ok=%v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestClassifyRules(t *testing.T) {
	rules, err := ParseRules([]string{"bulk:udp:443", "realtime:tcp:22", "bulk:198.19.1.0/24", "realtime:udp:cs1:7000-7010"})
	if err != nil {
		t.Fatal(err)
	}
	c := New(rules)
	tests := []struct {
		name string
		pkt  []byte
		want Class
	}{
		{"1 quic download (source port 443) is bulk", pkt(ProtoUDP, 0, vmB, vmA, 443, 50000, 0, 1200), Bulk},
		{"2 quic upload (destination 443) is bulk", pkt(ProtoUDP, 0, vmA, vmB, 50000, 443, 0, 1200), Bulk},
		{"3 other udp stays real-time", pkt(ProtoUDP, 0, vmA, vmB, 50000, 444, 0, 1200), RealTime},
		{"4 tcp 443 stays bulk", pkt(ProtoTCP, 0, vmA, vmB, 50000, 443, 0, 1200), Bulk},
		{"5 ssh is real-time", pkt(ProtoTCP, 0, vmA, vmB, 50000, 22, 0, 100), RealTime},
		{"6 ssh reply is real-time", pkt(ProtoTCP, 0, vmB, vmA, 22, 50000, 0, 100), RealTime},
		{"7 anything to a bulk prefix", pkt(ProtoUDP, DSCPEF, vmA, vmC, 1, 2, 0, 100), Bulk},
		{"8 anything from a bulk prefix", pkt(ProtoICMP, 0, vmC, vmA, 0, 0, 0, 100), Bulk},
		{"9 cs1 udp in range overridden", pkt(ProtoUDP, DSCPCS1, vmA, vmB, 7005, 9, 0, 100), RealTime},
		{"10 cs1 udp out of range: default bulk", pkt(ProtoUDP, DSCPCS1, vmA, vmB, 7011, 9, 0, 100), Bulk},
		{"11 later fragment of quic: no ports, no match", pkt(ProtoUDP, 0, vmA, vmB, 0, 0, 100, 100), RealTime},
		{"12 udp header cut short: no ports", pkt(ProtoUDP, 0, vmA, vmB, 0, 0, 0, 22), RealTime},
	}
	for _, tt := range tests {
		if got, _, _ := c.Classify(tt.pkt); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParsePorts(t *testing.T) {
	p, ok := Parse(pkt(ProtoUDP, DSCPEF, vmA, vmB, 1234, 5678, 0, 100))
	if !ok || !p.Ports || p.SPort != 1234 || p.DPort != 5678 || p.DSCP != DSCPEF || p.Src != vmA || p.Dst != vmB {
		t.Fatalf("parse: %+v ok=%v", p, ok)
	}
	opts := pkt(ProtoTCP, 0, vmA, vmB, 0, 0, 0, 100)
	opts[0] = 0x46 // one word of options: ports start at 24
	opts[24], opts[25], opts[26], opts[27] = 0, 80, 0, 81
	if p, _ := Parse(opts); p.SPort != 80 || p.DPort != 81 {
		t.Fatalf("ports after options: %d %d", p.SPort, p.DPort)
	}
}

func TestClassifyAllocatesNothing(t *testing.T) {
	rules, _ := ParseRules([]string{"bulk:udp:443", "realtime:tcp:22", "bulk:198.19.1.0/24"})
	c := New(rules)
	ft := NewFlowTable(64)
	p := pkt(ProtoUDP, 0, vmA, vmB, 5004, 5004, 0, 200)
	paths := []int32{2, 3}
	allocs := testing.AllocsPerRun(1000, func() {
		cl, pp, _ := c.Classify(p)
		ft.Record(pp.Flow, cl, len(p), 1, paths)
	})
	if allocs != 0 {
		t.Fatalf("Classify + Record: %v allocations per packet, want 0", allocs)
	}
}
