package aggregator

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/polylink/polylink/classify"
)

// PolicyStatus says how the engine decides what is copied where.
type PolicyStatus struct {
	// Redundancy is "realtime" (bulk on one path) or "all" (the seed's).
	Redundancy     string   `json:"redundancy"`
	Rules          []string `json:"rules"`
	Metered        []string `json:"metered"`
	MeteredGraceMs float64  `json:"metered_grace_ms"`
	// SecondCopyMs is the configured second-copy delay: 0 measured, -1 off.
	SecondCopyMs float64 `json:"second_copy_ms"`
	FlowTableCap int     `json:"flow_table_cap"`
	FlowsEvicted uint64  `json:"flows_evicted"`
}

// FlowStatus is one flow Send has seen recently.
type FlowStatus struct {
	Proto    string           `json:"proto"`
	Src      string           `json:"src"`
	Dst      string           `json:"dst"`
	Class    classify.Class   `json:"class"`
	Packets  uint64           `json:"packets"`
	Bytes    uint64           `json:"bytes"`
	LastMs   float64          `json:"last_ms"`
	Paths    []FlowPathStatus `json:"paths"`
	Readable string           `json:"flow"`
}

// FlowPathStatus is a flow's traffic on one local NIC.
type FlowPathStatus struct {
	Local   string `json:"local"`
	Index   int    `json:"local_index"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Status shows flows seen within flowRecent, at most maxFlowsShown.
const (
	flowRecent    = 30 * time.Second
	maxFlowsShown = 32
)

func (e *Engine) policyStatus() PolicyStatus {
	p := &e.cfg.Policy
	ps := PolicyStatus{Redundancy: p.Redundancy(), Rules: []string{}, Metered: append([]string{}, p.Metered...),
		MeteredGraceMs: ms(int64(p.MeteredGrace)), SecondCopyMs: ms(int64(p.SecondCopy)),
		FlowTableCap: e.flows.Cap(), FlowsEvicted: e.flows.Evicted()}
	if p.SecondCopy < 0 {
		ps.SecondCopyMs = -1
	}
	for _, r := range p.Classifier.Rules() {
		ps.Rules = append(ps.Rules, r.String())
	}
	return ps
}

// flowStatus lists recent flows, naming each path's NIC. Called with e.mu
// read-locked (for the names).
func (e *Engine) flowStatus(now int64) []FlowStatus {
	out := []FlowStatus{}
	for _, f := range e.flows.Flows(now-int64(flowRecent), maxFlowsShown) {
		fs := FlowStatus{Proto: protoName(f.Proto), Src: endpoint(f.Src, f.SPort, f.Flow), Dst: endpoint(f.Dst, f.DPort, f.Flow),
			Class: f.Class, Packets: f.Packets, Bytes: f.Bytes, LastMs: ms(now - f.Last), Paths: []FlowPathStatus{},
			Readable: f.Flow.String()}
		for _, pc := range f.Paths {
			name := e.linkName(int(pc.Path))
			fs.Paths = append(fs.Paths, FlowPathStatus{Local: name, Index: int(pc.Path), Packets: pc.Packets, Bytes: pc.Bytes})
		}
		out = append(out, fs)
	}
	return out
}

func protoName(p uint8) string {
	switch p {
	case classify.ProtoTCP:
		return "tcp"
	case classify.ProtoUDP:
		return "udp"
	case classify.ProtoICMP:
		return "icmp"
	}
	return "proto " + strconv.Itoa(int(p))
}

// endpoint renders one end of a flow, with its port if the flow has ports.
func endpoint(a [4]byte, port uint16, f classify.Flow) string {
	if f.SPort == 0 && f.DPort == 0 {
		return netip.AddrFrom4(a).String()
	}
	return netip.AddrPortFrom(netip.AddrFrom4(a), port).String()
}

// hostPolicyStatus fills a host's policy fields.
func (e *Engine) hostPolicyStatus(h *host, hs *HostStatus) {
	hp := &h.pol
	hs.UpPaths, hs.PeakUpPaths = int(hp.up.Load()), int(hp.peak.Load())
	hs.SecondCopyDelayMs = ms(hp.secondDelay.Load())
	hs.SecondCopy = hs.SecondCopyDelayMs > 0
	switch hp.held.Load() {
	case heldLossless:
		hs.SecondCopyHeld = "surviving path lossless"
	case heldQueueing:
		hs.SecondCopyHeld = "surviving path queueing"
	}
	hs.SecondCopies = hp.secondCopies.Load()
	hs.BulkNoPath = hp.bulkNoPath.Load()
	if c := hp.bulk.Load(); c != nil {
		hs.BulkPath = c.link.name + " → " + c.remote.addr.String()
	}
}

// connPolicyStatus fills a connection's policy fields.
func (e *Engine) connPolicyStatus(c *conn, now int64, cs *ConnStatus) {
	cs.Metered = c.link.metered.Load()
	cs.RemoteMetered = now < c.remote.meteredUntil.Load()
	cs.Bulk = c.host.pol.bulk.Load() == c
	rt, bulk := &c.pol.tx[classify.RealTime], &c.pol.tx[classify.Bulk]
	cs.TxRealtimePackets, cs.TxRealtimeBytes = rt.packets.Load(), rt.bytes.Load()
	cs.TxBulkPackets, cs.TxBulkBytes = bulk.packets.Load(), bulk.bytes.Load()
	cs.TxSecondCopies = c.pol.secondCopies.Load()
}

func (e *Engine) policyCounterStatus(cs *CounterStatus) {
	st := &e.stats.pol
	cs.TxRealtime, cs.TxBulk = st.tx[classify.RealTime].Load(), st.tx[classify.Bulk].Load()
	cs.SecondCopies, cs.SecondCopyDropped = st.secondCopies.Load(), st.secondDropped.Load()
	cs.BulkNoPath, cs.NICInfo, cs.NICInfoIgnored = st.bulkNoPath.Load(), st.nicInfo.Load(), st.nicInfoIgnored.Load()
}

// localPolicyStatus adds each local NIC's metered flag, bytes sent and
// budget. Called with e.mu read-locked.
func (e *Engine) localPolicyStatus(out []LocalStatus) {
	for _, ll := range e.links {
		for i := range out {
			if out[i].Index == ll.index {
				out[i].Metered = out[i].Metered || ll.metered.Load()
				out[i].TxBytes += ll.txBytes.Load()
			}
		}
	}
	for i := range out {
		if out[i].Metered {
			out[i].BudgetBytes = e.cfg.Policy.MeteredBudget
		}
	}
}
