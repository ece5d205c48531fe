package main

import (
	"strings"
	"testing"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/classify"
)

// The text status says where bulk goes, what each path carried per class,
// which NIC is metered against its budget, the second copy, and the flows.
func TestRenderPolicy(t *testing.T) {
	var d statusDoc
	d.Local = []aggregator.LocalStatus{{Name: "eth0", Index: 2, Addr: "198.18.0.2"},
		{Name: "wwan0", Index: 3, Addr: "198.18.1.2", Metered: true, TxBytes: 1_600_000_000, BudgetBytes: 2_000_000_000}}
	d.Hosts = []aggregator.HostStatus{{VIP: "198.19.0.1", UpPaths: 1, PeakUpPaths: 2, SecondCopy: true, SecondCopyDelayMs: 28,
		SecondCopies: 1234, BulkPath: "eth0 → 198.18.0.3",
		Connections: []aggregator.ConnStatus{
			{Local: "eth0", RemoteAddr: "198.18.0.3", State: 2, Bulk: true, TxRealtimeBytes: 5_000_000, TxBulkBytes: 80_000_000},
			{Local: "wwan0", RemoteAddr: "198.18.1.3", State: 0, Metered: true, TxRealtimeBytes: 5_000_000, TxSecondCopies: 1234},
		}}}
	d.Policy = aggregator.PolicyStatus{Redundancy: "realtime", Metered: []string{"wwan*"}, Rules: []string{"bulk:udp:443"}}
	d.Flows = []aggregator.FlowStatus{{Readable: "tcp 198.19.0.2:40000 → 198.19.0.1:5201", Class: classify.Bulk, Packets: 60000,
		Bytes: 80_000_000, Paths: []aggregator.FlowPathStatus{{Local: "eth0", Bytes: 80_000_000}}}}
	text := renderStatus(&d)
	for _, want := range []string{
		"metered, sent 1600 MB of a 2000 MB budget (80 %)",
		"bulk on: eth0 → 198.18.0.3   paths up 1 of 2   second copy of real-time ON, 28 ms later (1234 sent)",
		"◀ bulk",
		"policy: redundancy realtime  metered wwan*  rules bulk:udp:443",
		"tcp 198.19.0.2:40000 → 198.19.0.1:5201  bulk",
		"eth0 80 MB",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}
}
