package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/polylink/polylink/router"
)

// The Prometheus exporter (`--metrics ADDR:PORT`, /metrics).
//
// One Collector turns a status snapshot into metrics at scrape time: the
// snapshot is taken under the engine's read locks and released before a
// byte is written, exactly like `polylink status`, so a slow scraper never
// stalls packets. Nothing is registered per host or path: the series of a
// scrape are those of the hosts and paths the engine knows at that moment,
// so a forgotten host's series disappear with it, and the count is bounded
// by the engine's own limits (--max-hosts × --max-nics × local NICs paths).
//
// Labels: host (its virtual address), local (the local NIC's name), remote
// (the remote endpoint's underlay address), direction (tx or rx).

const metricsNamespace = "polylink"

// metricsCollector is a prometheus.Collector over a status snapshot.
type metricsCollector struct {
	snapshot func() statusDoc

	info                                                           *prometheus.Desc
	pathState, pathCarrying, pathRTT, pathLoss, pathJitter         *prometheus.Desc
	pathFirstShare, pathFirstWins, pathPackets, pathBytes          *prometheus.Desc
	pathProbesSent, pathProbesLost, pathQueueDrops, pathSendErr    *prometheus.Desc
	pathLastRx                                                     *prometheus.Desc
	hostEstablished, hostDelivered, hostTx, hostLateDups, hostDups *prometheus.Desc
	hostRate, hostIDShare, hostSkew, hostMaxSkew, hostLastRx       *prometheus.Desc
	hostPathsUp, hosts, localNICs, uptime, malformed               *prometheus.Desc
	// counters are the engine's and the router's counters, one metric per
	// JSON key of their status structs (found by reflection, so a counter
	// added to the status is exported with no change here).
	counters map[string]*prometheus.Desc
}

func newMetricsCollector(snapshot func() statusDoc) *metricsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricsNamespace+"_"+name, help, labels, nil)
	}
	path := []string{"host", "local", "remote"}
	m := &metricsCollector{
		snapshot: snapshot,
		info:     d("info", "Constant 1, labelled with the daemon's version, virtual address and TUN.", "version", "vip", "tun"),

		pathState:      d("path_state", "Handshake state of the path: 0 can send, 1 can receive, 2 both directions work.", path...),
		pathCarrying:   d("path_carrying", "1 if the path carries data now.", path...),
		pathRTT:        d("path_rtt_seconds", "Smoothed probe round-trip time of the path.", path...),
		pathLoss:       d("path_loss_ratio", "Probe loss of the path over the recent window, 0 to 1.", path...),
		pathJitter:     d("path_jitter_seconds", "Round-trip time variation of the path.", path...),
		pathFirstShare: d("path_first_arrival_ratio", "Share of the host's delivered packets whose first copy came on this path.", path...),
		pathFirstWins:  d("path_first_arrivals_total", "Delivered packets whose first copy came on this path.", path...),
		pathPackets:    d("path_packets_total", "Bundle packets (data and probes) sent (tx) and received (rx) on the path.", append(path, "direction")...),
		pathBytes:      d("path_bytes_total", "Bundle bytes sent (tx) and received (rx) on the path.", append(path, "direction")...),
		pathProbesSent: d("path_probes_sent_total", "Probes sent on the path.", path...),
		pathProbesLost: d("path_probes_lost_total", "Probes sent on the path that got no reply.", path...),
		pathQueueDrops: d("path_queue_drops_total", "Packets dropped because the local NIC's send queue was full.", path...),
		pathSendErr:    d("path_send_errors_total", "Send errors on the path.", path...),
		pathLastRx:     d("path_last_rx_seconds", "Time since the last packet on the path; -1 for never.", path...),

		hostEstablished: d("host_established", "1 if the host has a path working in both directions.", "host"),
		hostDelivered:   d("host_delivered_total", "Packets from the host delivered (first copies).", "host"),
		hostTx:          d("host_tx_packets_total", "Packets sent to the host (each once, whatever the copies).", "host"),
		hostDups:        d("host_duplicates_dropped_total", "Copies from the host dropped as duplicates (a second path delivered the packet first).", "host"),
		hostLateDups:    d("host_late_duplicates_total", "Copies from the host that arrived after the dedup window: delivered twice.", "host"),
		hostRate:        d("host_rate_packets_per_second", "Data packet rate to (tx) and from (rx) the host.", "host", "direction"),
		hostIDShare:     d("host_id_window_ratio", "Use of the 13-bit packet-ID window: rate over the 16,384 packet/s limit.", "host"),
		hostSkew:        d("host_skew_seconds", "One-way delay skew between the fastest and slowest working path.", "host"),
		hostMaxSkew:     d("host_max_skew_seconds", "Largest skew at which duplicates are still recognised at the current rate.", "host"),
		hostLastRx:      d("host_last_rx_seconds", "Time since the last packet from the host; -1 for never.", "host"),
		hostPathsUp:     d("host_paths_up", "Paths to the host in state 2.", "host"),

		hosts:     d("hosts", "Hosts the engine knows."),
		localNICs: d("local_nics", "Local NICs used as paths."),
		uptime:    d("uptime_seconds", "Time since the engine started."),
		malformed: d("malformed_dropped_by_reason_total", "Malformed bundle packets dropped, by reason.", "reason"),
		counters:  map[string]*prometheus.Desc{},
	}
	var doc statusDoc
	for _, c := range []struct {
		prefix string
		v      any
	}{{"", doc.Counters}, {"router_", doc.Router.Counters}, {"exit_", router.ExitStatus{}}} {
		for _, key := range counterKeys(c.v) {
			name := c.prefix + strings.TrimSuffix(key, "_total") + "_total"
			m.counters[c.prefix+key] = d(name, "Counter "+key+" of polylink status --json ("+strings.TrimSuffix(c.prefix, "_")+" counters).")
		}
	}
	return m
}

// counterKeys lists the JSON keys of the uint64 fields of a counters struct.
func counterKeys(v any) []string {
	var keys []string
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Type.Kind() == reflect.Uint64 && key != "" && key != "-" {
			keys = append(keys, key)
		}
	}
	return keys
}

// Describe implements prometheus.Collector. It sends nothing: the series
// change with the engine's hosts and paths, so the collector is
// "unchecked" (client_golang's term) and its metrics are checked for
// consistency at gather time instead.
func (m *metricsCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector: one status snapshot, then
// metrics built from it with no engine lock held.
func (m *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	doc := m.snapshot()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(m.info, 1, version, doc.VIP, doc.TUN.Name)
	gauge(m.hosts, float64(len(doc.Hosts)))
	gauge(m.localNICs, float64(len(doc.Local)))
	gauge(m.uptime, doc.UptimeS)
	for reason, n := range doc.Malformed {
		counter(m.malformed, uint64(n), reason)
	}
	sets := []struct {
		prefix string
		v      any
	}{{"", doc.Counters}, {"router_", doc.Router.Counters}}
	if doc.Exit != nil {
		sets = append(sets, struct {
			prefix string
			v      any
		}{"exit_", *doc.Exit})
	}
	for _, c := range sets {
		rv := reflect.ValueOf(c.v)
		for _, key := range counterKeys(c.v) {
			if f := fieldByJSONKey(rv, key); f.IsValid() {
				counter(m.counters[c.prefix+key], f.Uint())
			}
		}
	}
	for _, h := range doc.Hosts {
		host := h.VIP
		gauge(m.hostEstablished, boolFloat(h.Established), host)
		counter(m.hostDelivered, h.Delivered, host)
		counter(m.hostTx, h.TxPackets, host)
		counter(m.hostLateDups, h.LateDuplicates, host)
		counter(m.hostDups, h.DuplicatesDropped, host)
		gauge(m.hostRate, h.TxRatePps, host, "tx")
		gauge(m.hostRate, h.RxRatePps, host, "rx")
		gauge(m.hostIDShare, h.IDLimitShare, host)
		gauge(m.hostSkew, h.SkewMs/1e3, host)
		gauge(m.hostMaxSkew, h.MaxSkewMs/1e3, host)
		gauge(m.hostLastRx, seconds(h.LastRxMs), host)
		up := 0
		// Two connections can share labels (a remote NIC that came back
		// with a new index before the old one expired): report the one in
		// the best state, as Prometheus refuses duplicate series.
		best := map[[2]string]int{}
		for i, c := range h.Connections {
			if c.State == 2 {
				up++
			}
			k := [2]string{c.Local, c.RemoteAddr}
			if j, ok := best[k]; !ok || c.State > h.Connections[j].State {
				best[k] = i
			}
		}
		gauge(m.hostPathsUp, float64(up), host)
		for _, i := range best {
			c := h.Connections[i]
			l := []string{host, c.Local, c.RemoteAddr}
			gauge(m.pathState, float64(c.State), l...)
			gauge(m.pathCarrying, boolFloat(c.Carrying), l...)
			gauge(m.pathRTT, c.RTTMs/1e3, l...)
			gauge(m.pathLoss, c.Loss, l...)
			gauge(m.pathJitter, c.JitterMs/1e3, l...)
			gauge(m.pathFirstShare, c.FirstShare, l...)
			counter(m.pathFirstWins, c.FirstWins, l...)
			counter(m.pathPackets, c.TxPackets, append(l, "tx")...)
			counter(m.pathPackets, c.RxPackets, append(l, "rx")...)
			counter(m.pathBytes, c.TxBytes, append(l, "tx")...)
			counter(m.pathBytes, c.RxBytes, append(l, "rx")...)
			counter(m.pathProbesSent, c.ProbesSent, l...)
			counter(m.pathProbesLost, c.ProbesLost, l...)
			counter(m.pathQueueDrops, c.QueueDrops, l...)
			counter(m.pathSendErr, c.SendErrors, l...)
			gauge(m.pathLastRx, seconds(c.LastRxMs), l...)
		}
	}
}

func fieldByJSONKey(v reflect.Value, key string) reflect.Value {
	t := v.Type()
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); k == key {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// seconds turns a status "ms ago" (-1 for never) into seconds, keeping -1.
func seconds(ms float64) float64 {
	if ms < 0 {
		return -1
	}
	return ms / 1e3
}

// checkMetricsAddr validates --metrics: HOST:PORT with a numeric port.
func checkMetricsAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("run: --metrics %q: want ADDR:PORT, e.g. 127.0.0.1:9469", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return usagef("run: --metrics %q: want a port number 1 to 65535", addr)
	}
	_ = host // empty means every address, like net/http
	return nil
}

// metricsServer serves /metrics over HTTP until closed.
type metricsServer struct {
	srv  *http.Server
	done chan struct{}
}

// serveMetrics listens on addr and serves the collector's metrics, the Go
// runtime's and the process's (memory, CPU, file descriptors: what a
// daemon running for months should be watched for) at /metrics.
func serveMetrics(addr string, snapshot func() statusDoc, log *zap.Logger) (*metricsServer, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newMetricsCollector(snapshot), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(log), ErrorHandling: promhttp.ContinueOnError,
		MaxRequestsInFlight: 4, Timeout: 10 * time.Second,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "polylink serves Prometheus metrics at /metrics", http.StatusNotFound)
	})
	s := &metricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 15 * time.Second, MaxHeaderBytes: 8 << 10},
		done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics", zap.String("url", "http://"+ln.Addr().String()+"/metrics"))
	return s, nil
}

// Close stops the server and waits for it.
func (s *metricsServer) Close() {
	_ = s.srv.Close()
	<-s.done
}
