package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
	"github.com/polylink/polylink/testbed/stream"
)

// gatherDoc gathers the collector's metrics over doc through a pedantic
// registry, which fails on inconsistent or duplicate series.
func gatherDoc(t *testing.T, doc statusDoc) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newMetricsCollector(func() statusDoc { return doc }))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// TestMetricsFollowTheSnapshot: series exist for each host and path of a
// snapshot, two paths sharing labels give one series, and a host gone
// from the snapshot leaves no series behind.
func TestMetricsFollowTheSnapshot(t *testing.T) {
	conn := func(local, remote string, idx uint32, state int, tx uint64) aggregator.ConnStatus {
		return aggregator.ConnStatus{Local: local, RemoteAddr: remote, RemoteIndex: idx, State: state,
			TxPackets: tx, RTTMs: 12.5}
	}
	var doc statusDoc
	doc.VIP = "198.19.0.2"
	doc.Counters.Delivered = 42
	doc.Router.Counters.Forwarded = 7
	doc.Hosts = []aggregator.HostStatus{{VIP: "198.19.0.1", Delivered: 40, Connections: []aggregator.ConnStatus{
		conn("eth0", "198.18.0.3", 2, 2, 100), conn("eth1", "198.18.0.3", 2, 2, 101),
		conn("eth1", "198.18.0.3", 9, 0, 5), // a stale twin of the path above
	}}}
	mfs := gatherDoc(t, doc)
	rtt := mfs["polylink_path_rtt_seconds"]
	if rtt == nil || len(rtt.Metric) != 2 || rtt.Metric[0].GetGauge().GetValue() != 0.0125 {
		t.Fatalf("path_rtt_seconds: %v", rtt)
	}
	for _, m := range mfs["polylink_path_packets_total"].Metric {
		l := labelMap(m)
		if l["host"] != "198.19.0.1" || l["remote"] != "198.18.0.3" || l["local"] == "" || l["direction"] == "" {
			t.Errorf("path labels %v", l)
		}
		if l["local"] == "eth1" && l["direction"] == "tx" && m.GetCounter().GetValue() != 101 {
			t.Errorf("eth1 tx %v: want the working twin's 101", m.GetCounter().GetValue())
		}
	}
	if v := mfs["polylink_delivered_total"].Metric[0].GetCounter().GetValue(); v != 42 {
		t.Errorf("polylink_delivered_total %v, want 42", v)
	}
	if v := mfs["polylink_router_forwarded_total"].Metric[0].GetCounter().GetValue(); v != 7 {
		t.Errorf("polylink_router_forwarded_total %v, want 7", v)
	}
	doc.Hosts = nil
	for name, mf := range gatherDoc(t, doc) {
		if strings.HasPrefix(name, "polylink_path_") || strings.HasPrefix(name, "polylink_host_") {
			t.Errorf("host forgotten but %s still has %d series", name, len(mf.Metric))
		}
	}
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.Label {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestMetricsFlagValidation(t *testing.T) {
	base := []string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3"}
	for _, bad := range []string{"9469", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000"} {
		if _, err := parseRunFlags(append(base, "--metrics", bad)); err == nil || exitCode(err) != exitUsage {
			t.Errorf("--metrics %q: %v; want a usage error", bad, err)
		}
	}
	if c, err := parseRunFlags(append(base, "--metrics", "127.0.0.1:9469")); err != nil || c.metrics != "127.0.0.1:9469" {
		t.Errorf("--metrics 127.0.0.1:9469: %v", err)
	}
}

// scrape fetches http://addr/metrics from inside ns.
func scrape(t *testing.T, ns *testbed.Namespace, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	var c net.Conn
	if err := ns.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connect to the exporter: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the exposition: %v", err)
	}
	return mfs
}

// sumOf adds the values of a family's series whose labels include want.
func sumOf(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (sum float64, n int) {
	mf := mfs[name]
	if mf == nil {
		return 0, 0
	}
next:
	for _, m := range mf.Metric {
		l := labelMap(m)
		for k, v := range want {
			if l[k] != v {
				continue next
			}
		}
		n++
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum, n
}

// TestMetricsDuringAStream starts both ends from config files alone, one
// of them exporting metrics, streams between them and scrapes: the series
// exist for each path and host, and move with the traffic. When the other
// end goes away and is forgotten, its series go too.
func TestMetricsDuringAStream(t *testing.T) {
	nstest.RequireRoot(t)
	a, b := nstest.Namespace(t, "pl-met-a"), nstest.Namespace(t, "pl-met-b")
	nstest.Veth(t, a, "eth0", "198.18.98.1/24", b, "eth0", "198.18.98.2/24")
	nstest.Veth(t, a, "eth1", "198.18.99.1/24", b, "eth1", "198.18.99.2/24")
	dir := t.TempDir()
	conf := func(name, body string) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	const addr = "127.0.0.1:9469"
	fa := conf("a.toml", `vip = "198.19.98.1/24"
peer = ["198.18.98.2", "198.18.99.2"]
probe = "50ms"
host-timeout = "2s"
metrics = "`+addr+`"
`)
	fb := conf("b.toml", "vip = \"198.19.98.2/24\"\npeer = [\"198.18.98.1\", \"198.18.99.1\"]\nprobe = \"50ms\"\n")
	na := startNode(t, a, "--config", fa)
	nb := startNode(t, b, "--config", fb)
	waitFor(t, "both paths up", 5*time.Second, func() bool { return na.upPaths("198.19.98.2") == 2 })
	if _, err := a.Run("ip", "link", "set", "lo", "up"); err != nil {
		t.Fatal(err)
	}

	host := map[string]string{"host": "198.19.98.2"}
	before := scrape(t, a, addr)
	for _, name := range []string{"polylink_path_state", "polylink_path_rtt_seconds", "polylink_path_loss_ratio",
		"polylink_path_jitter_seconds", "polylink_path_first_arrival_ratio", "polylink_path_packets_total",
		"polylink_path_bytes_total"} {
		if _, n := sumOf(before, name, host); n < 2 {
			t.Errorf("%s: %d series for host 198.19.98.2, want one per path (2) at least", name, n)
		}
	}
	for _, name := range []string{"polylink_host_delivered_total", "polylink_host_late_duplicates_total",
		"polylink_host_id_window_ratio", "polylink_delivered_total", "polylink_duplicates_dropped_total",
		"polylink_info", "process_resident_memory_bytes", "go_goroutines"} {
		if _, ok := before[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	if st, _ := sumOf(before, "polylink_path_state", host); st != 4 {
		t.Errorf("sum of path states %v, want 2 paths × state 2", st)
	}

	// A stream from B to A: A receives every packet on both paths.
	const pkts = 1000
	flow := udpFlow(t, "polylink", b, a, "198.19.98.1", 5010, stream.AudioProfile(500, 200, 2*time.Second))
	r := measureInBackground(flow)(t)
	if r.Lost != 0 {
		t.Fatalf("stream lost %d of %d", r.Lost, r.Sent)
	}
	after := scrape(t, a, addr)
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"polylink_host_delivered_total", host, pkts},
		{"polylink_path_packets_total", map[string]string{"host": "198.19.98.2", "local": "eth0", "direction": "rx"}, pkts},
		{"polylink_path_packets_total", map[string]string{"host": "198.19.98.2", "local": "eth1", "direction": "rx"}, pkts},
		{"polylink_path_bytes_total", map[string]string{"host": "198.19.98.2", "direction": "rx"}, 2 * pkts * 200},
		{"polylink_path_first_arrivals_total", host, pkts},
		{"polylink_duplicates_dropped_total", nil, pkts * 0.9},
		{"polylink_host_duplicates_dropped_total", host, pkts * 0.9},
	} {
		v0, _ := sumOf(before, c.name, c.labels)
		v1, n := sumOf(after, c.name, c.labels)
		t.Logf("%s%v: %v → %v", c.name, c.labels, v0, v1)
		if n == 0 || v1-v0 < c.min {
			t.Errorf("%s%v grew by %v during a %d-packet stream, want at least %v", c.name, c.labels, v1-v0, pkts, c.min)
		}
	}
	if share, n := sumOf(after, "polylink_path_first_arrival_ratio", host); n < 2 || share < 0.99 || share > 1.01 {
		t.Errorf("first-arrival shares of the paths add to %v over %d series, want 1", share, n)
	}

	nb.stop()
	waitFor(t, "B forgotten", 10*time.Second, func() bool { return len(na.status().Hosts) == 0 })
	gone := scrape(t, a, addr)
	for name, mf := range gone {
		if _, n := sumOf(gone, name, host); n > 0 {
			t.Errorf("B forgotten but %s still has series for it", mf.GetName())
		}
	}
}

// TestDashboardUsesExportedMetrics: every polylink_ metric the Grafana
// dashboard in contrib/ queries is one the exporter serves.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../../contrib/grafana/polylink.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc statusDoc
	doc.Hosts = []aggregator.HostStatus{{VIP: "198.19.0.1", Connections: []aggregator.ConnStatus{{Local: "eth0", RemoteAddr: "198.18.0.3"}}}}
	served := gatherDoc(t, doc)
	used := regexp.MustCompile(`polylink_[a-z_]+`).FindAllString(string(b), -1)
	if len(used) < 10 {
		t.Fatalf("dashboard queries only %d polylink metrics", len(used))
	}
	for _, name := range used {
		if served[name] == nil {
			t.Errorf("dashboard queries %s, which the exporter does not serve", name)
		}
	}
}

// BenchmarkMetricsScrape: one scrape of a router node's exporter with 100
// hosts of 2 × 2 paths each, rendered in the text format (the snapshot
// itself is the engine's Status, measured elsewhere).
func BenchmarkMetricsScrape(b *testing.B) {
	var doc statusDoc
	for h := range 100 {
		hs := aggregator.HostStatus{VIP: fmt.Sprintf("198.19.%d.%d", h/250, h%250+2)}
		for l := range 2 {
			for r := range 2 {
				hs.Connections = append(hs.Connections, aggregator.ConnStatus{Local: fmt.Sprintf("eth%d", l),
					RemoteAddr: fmt.Sprintf("198.18.%d.%d", r, h+2), RemoteIndex: uint32(r), State: 2, TxPackets: 1e6})
			}
		}
		doc.Hosts = append(doc.Hosts, hs)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newMetricsCollector(func() statusDoc { return doc }))
	var series int
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		var buf strings.Builder
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		series = 0
		for _, mf := range mfs {
			series += len(mf.Metric)
			if err := enc.Encode(mf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(series), "series")
}
