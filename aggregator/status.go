package aggregator

import (
	"cmp"
	"slices"
	"time"

	"github.com/polylink/polylink/wire"
)

// Status is a consistent picture of the engine for `polylink status`. Its
// JSON keys are a contract with scripts: add freely, never rename.
type Status struct {
	VIP             string         `json:"vip"`
	Epoch           uint32         `json:"epoch"`
	ProbeIntervalMs float64        `json:"probe_interval_ms"`
	DeadIntervalMs  float64        `json:"dead_interval_ms"`
	UptimeS         float64        `json:"uptime_s"`
	Peers           []string       `json:"peers"`
	Local           []LocalStatus  `json:"local"`
	Hosts           []HostStatus   `json:"hosts"`
	Counters        CounterStatus  `json:"counters"`
	Malformed       map[string]int `json:"malformed_by_reason"`
	Policy          PolicyStatus   `json:"policy"`
	Flows           []FlowStatus   `json:"flows"`
	// Mode is "keyed" or "unauthenticated" (keyless, wire v1).
	Mode  string      `json:"mode"`
	Keyed KeyedStatus `json:"keyed"`
}

// LocalStatus is one local NIC the engine uses.
type LocalStatus struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	// Addr is the NIC's IPv4 address, or its IPv6 one if it has no IPv4.
	Addr string `json:"addr"`
	// Addr6 is the NIC's IPv6 address when it has IPv4 too.
	Addr6 string `json:"addr6,omitempty"`
	// Port is the UDP port its UDP links receive on (absent: none).
	Port int `json:"port,omitempty"`
	// Encaps lists the kinds of link the NIC has: "ipip", "udp4", "udp6".
	Encaps []string `json:"encaps"`
	// QueueLen and QueueCap sum the NIC's links' transmit queues.
	QueueLen int `json:"queue_len"`
	QueueCap int `json:"queue_cap"`
	// Metered: the NIC matches --metered; TxBytes: bundle bytes sent on it;
	// BudgetBytes: its --metered-budget (0: none).
	Metered     bool   `json:"metered"`
	TxBytes     uint64 `json:"tx_bytes"`
	BudgetBytes uint64 `json:"budget_bytes"`
}

// HostStatus is the bundle to one remote host.
type HostStatus struct {
	VIP            string  `json:"vip"`
	Gateway        bool    `json:"gateway"`
	Established    bool    `json:"established"`
	Epoch          uint32  `json:"epoch"`
	LastRxMs       float64 `json:"last_rx_ms"`
	TxRatePps      float64 `json:"tx_rate_pps"`
	RxRatePps      float64 `json:"rx_rate_pps"`
	IDLimitPps     int     `json:"id_limit_pps"`
	IDLimitShare   float64 `json:"id_limit_share"`
	TxPackets      uint64  `json:"tx_packets"`
	Delivered      uint64  `json:"delivered"`
	LateDuplicates uint64  `json:"late_duplicates"`
	// DuplicatesDropped are this host's copies dropped as duplicates.
	DuplicatesDropped uint64  `json:"duplicates_dropped"`
	SkewMs            float64 `json:"skew_ms"`
	// MaxSkewMs is how far behind the fastest path a copy may arrive and
	// still be recognised as a duplicate at the current rate: 500 ms up to
	// 8,192 packet/s, then 4,096 packets' worth (see dedup.Window.Check).
	MaxSkewMs   float64        `json:"max_skew_ms"`
	Remotes     []RemoteStatus `json:"remotes"`
	Connections []ConnStatus   `json:"connections"`

	// The policy (policy.go): working paths now and the most lately; the
	// second copy of real-time packets (on while fewer are up); the path
	// bulk takes ("" when none may).
	UpPaths           int     `json:"up_paths"`
	PeakUpPaths       int     `json:"peak_up_paths"`
	SecondCopy        bool    `json:"second_copy"`
	SecondCopyHeld    string  `json:"second_copy_held"`
	SecondCopyDelayMs float64 `json:"second_copy_delay_ms"`
	SecondCopies      uint64  `json:"second_copies"`
	BulkPath          string  `json:"bulk_path"`
	BulkNoPath        uint64  `json:"bulk_no_path"`
	// Keyed: a keypair with this host seals now; PublicKey its key (short
	// form, "" when keyless); LastHandshakeS seconds since the last
	// handshake, -1 for never or keyless.
	Keyed          bool    `json:"keyed"`
	PublicKey      string  `json:"public_key,omitempty"`
	LastHandshakeS float64 `json:"last_handshake_s"`
}

// RemoteStatus is one NIC of a remote host.
type RemoteStatus struct {
	Index uint32 `json:"index"`
	// Addr is the endpoint its packets come from: the address, with the
	// port for UDP (behind a NAT, the NAT's mapping).
	Addr     string  `json:"addr"`
	Encap    string  `json:"encap"`
	LastRxMs float64 `json:"last_rx_ms"`
}

// ConnStatus is one path: a local NIC × a remote NIC.
type ConnStatus struct {
	Local       string `json:"local"`
	LocalIndex  int    `json:"local_index"`
	RemoteIndex uint32 `json:"remote_index"`
	RemoteAddr  string `json:"remote_addr"`
	// Encap is the path's encapsulation: "ipip" or "udp".
	Encap      string  `json:"encap"`
	State      int     `json:"state"`
	StateName  string  `json:"state_name"`
	Carrying   bool    `json:"carrying"`
	RTTMs      float64 `json:"rtt_ms"`
	Loss       float64 `json:"loss"`
	JitterMs   float64 `json:"jitter_ms"`
	TxPackets  uint64  `json:"tx_packets"`
	RxPackets  uint64  `json:"rx_packets"`
	TxBytes    uint64  `json:"tx_bytes"`
	RxBytes    uint64  `json:"rx_bytes"`
	FirstWins  uint64  `json:"first_wins"`
	FirstShare float64 `json:"first_share"`
	LastRxMs   float64 `json:"last_rx_ms"`
	ProbesSent uint64  `json:"probes_sent"`
	ProbesLost uint64  `json:"probes_lost"`
	QueueDrops uint64  `json:"queue_drops"`
	SendErrors uint64  `json:"send_errors"`

	// Metered: our NIC is; RemoteMetered: the far end says its NIC is.
	Metered       bool `json:"metered"`
	RemoteMetered bool `json:"remote_metered"`
	// Standby: a UDP path up beside its raw IP-in-IP twin (the same NIC
	// and far address), which carries the copies instead (twins.go).
	Standby bool `json:"standby,omitempty"`
	// Bulk: this path carries the host's bulk traffic.
	Bulk              bool   `json:"bulk"`
	TxRealtimePackets uint64 `json:"tx_realtime_packets"`
	TxRealtimeBytes   uint64 `json:"tx_realtime_bytes"`
	TxBulkPackets     uint64 `json:"tx_bulk_packets"`
	TxBulkBytes       uint64 `json:"tx_bulk_bytes"`
	TxSecondCopies    uint64 `json:"tx_second_copies"`
}

// CounterStatus are the engine-wide counters.
type CounterStatus struct {
	TxPackets         uint64 `json:"tx_packets"`
	TxCopies          uint64 `json:"tx_copies"`
	RxPackets         uint64 `json:"rx_packets"`
	Delivered         uint64 `json:"delivered"`
	DuplicatesDropped uint64 `json:"duplicates_dropped"`
	MalformedDropped  uint64 `json:"malformed_dropped"`
	LateDuplicates    uint64 `json:"late_duplicates"`
	UnknownHost       uint64 `json:"unknown_host_dropped"`
	NoHost            uint64 `json:"no_bundle_dropped"`
	OwnPackets        uint64 `json:"own_packets_dropped"`
	Misdirected       uint64 `json:"misdirected_dropped"`
	UnprovenDropped   uint64 `json:"unproven_dropped"`
	QueueDrops        uint64 `json:"queue_drops"`
	SendErrors        uint64 `json:"send_errors"`
	ReadErrors        uint64 `json:"read_errors"`
	Oversize          uint64 `json:"oversize_dropped"`
	HostsEvicted      uint64 `json:"hosts_evicted"`
	PeerRestarts      uint64 `json:"peer_restarts"`
	ProbesSent        uint64 `json:"probes_sent"`
	// UnmatchedReplies counts probe replies that answer no probe this
	// engine has outstanding: late, duplicated or forged.
	UnmatchedReplies uint64 `json:"unmatched_replies"`
	// ProbesHeld counts probes left unanswered while our own challenge on
	// that path was in flight (see answerProbe).
	ProbesHeld uint64 `json:"probes_held"`
	// TxCopiesBlind counts data copies sent while no path to their host was
	// up: to every NIC that ever answered, which the far end may have
	// forgotten meanwhile.
	TxCopiesBlind uint64 `json:"tx_copies_blind"`
	// LogEventsDropped counts operator events not logged because the log
	// writer fell behind; packets never wait for it.
	LogEventsDropped  uint64 `json:"log_events_dropped"`
	TxRealtime        uint64 `json:"tx_realtime_packets"`
	TxBulk            uint64 `json:"tx_bulk_packets"`
	SecondCopies      uint64 `json:"second_copies"`
	SecondCopyDropped uint64 `json:"second_copies_dropped"`
	BulkNoPath        uint64 `json:"bulk_no_path"`
	NICInfo           uint64 `json:"nic_info"`
	NICInfoIgnored    uint64 `json:"nic_info_ignored"`
	// ECNMarked counts delivered packets marked CE because a congested
	// path marked their outer header (RFC 6040); ECNDropped, first copies
	// so marked whose inner packet could not carry the mark.
	ECNMarked  uint64 `json:"ecn_ce_marked"`
	ECNDropped uint64 `json:"ecn_ce_dropped"`
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// sinceMs is how long ago a timestamp was, in ms; -1 for never.
func sinceMs(now, t int64) float64 {
	if t == 0 {
		return -1
	}
	return ms(now - t)
}

// Status snapshots the engine under its read lock; the caller renders it
// after the lock is released, so a slow status client never stalls packets.
func (e *Engine) Status() Status {
	now := e.now()
	e.mu.RLock()
	defer e.mu.RUnlock()
	s := Status{
		VIP: e.cfg.VIP.String(), Epoch: e.epoch,
		ProbeIntervalMs: ms(int64(e.cfg.ProbeInterval)), DeadIntervalMs: ms(int64(e.cfg.DeadInterval)),
		UptimeS: time.Duration(now).Seconds(), Peers: []string{}, Local: []LocalStatus{}, Hosts: []HostStatus{},
		Malformed: map[string]int{},
	}
	for p := range e.peers {
		s.Peers = append(s.Peers, endpointString(p))
	}
	slices.Sort(s.Peers)
	s.Local = e.localStatus()
	e.localPolicyStatus(s.Local)
	for _, h := range e.hosts {
		s.Hosts = append(s.Hosts, e.hostStatus(h, now))
	}
	slices.SortFunc(s.Hosts, func(a, b HostStatus) int { return cmp.Compare(a.VIP, b.VIP) })
	s.Counters = e.counterStatus()
	e.policyCounterStatus(&s.Counters)
	s.Policy = e.policyStatus()
	s.Flows = e.flowStatus(now)
	e.keyedStatus(&s)
	for i := range e.stats.malformed {
		if n := e.stats.malformed[i].Load(); n > 0 {
			s.Malformed[wire.Error(i).Error()] = int(n)
		}
	}
	return s
}

func (e *Engine) hostStatus(h *host, now int64) HostStatus {
	hs := HostStatus{
		VIP: h.vip.String(), Gateway: h.gateway, Established: h.established.Load(), Epoch: h.epoch.Load(), LastRxMs: sinceMs(now, h.lastRx.Load()),
		TxRatePps: h.rate.tx, RxRatePps: h.rate.rx, IDLimitPps: idLimit,
		IDLimitShare: max(h.rate.tx, h.rate.rx) / idLimit, TxPackets: h.txData.Load(),
		Delivered: h.rxData.Load(), LateDuplicates: h.lateDups.Load(), DuplicatesDropped: h.dups.Load(),
		Remotes: []RemoteStatus{}, Connections: []ConnStatus{},
	}
	for _, r := range h.remotes {
		hs.Remotes = append(hs.Remotes, RemoteStatus{Index: r.index, Addr: endpointString(r.addr),
			Encap: r.kind().Encap(), LastRxMs: sinceMs(now, r.lastRx.Load())})
	}
	slices.SortFunc(hs.Remotes, func(a, b RemoteStatus) int { return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.Addr, b.Addr)) })
	anyUp := h.anyUp(now, e.dead)
	maturity := int64(e.cfg.DeadInterval)
	var wins uint64
	var minRTT, maxRTT int64
	for _, c := range h.conns {
		wins += c.firstWins.Load()
	}
	for _, c := range h.conns {
		v := c.probes.view(now, maturity)
		st := c.state(now, e.dead)
		standby := st == stateBoth && h.standby(c, now, e.dead)
		cs := ConnStatus{
			Local: c.link.name, LocalIndex: c.link.index, RemoteIndex: c.remote.index,
			RemoteAddr: endpointString(c.remote.addr), Encap: c.remote.kind().Encap(), State: int(st), StateName: st.String(),
			Carrying: !anyUp || st == stateBoth && !standby, Standby: standby, RTTMs: ms(v.srtt), Loss: v.loss, JitterMs: ms(v.jitter),
			TxPackets: c.txPackets.Load(), RxPackets: c.rxPackets.Load(), TxBytes: c.txBytes.Load(),
			RxBytes: c.rxBytes.Load(), FirstWins: c.firstWins.Load(), LastRxMs: sinceMs(now, c.lastRx.Load()),
			ProbesSent: v.sent, ProbesLost: v.lost, QueueDrops: c.queueDrops.Load(), SendErrors: c.sendErrs.Load(),
		}
		e.connPolicyStatus(c, now, &cs)
		if wins > 0 {
			cs.FirstShare = float64(cs.FirstWins) / float64(wins)
		}
		if st == stateBoth && v.srtt > 0 {
			if minRTT == 0 || v.srtt < minRTT {
				minRTT = v.srtt
			}
			maxRTT = max(maxRTT, v.srtt)
		}
		hs.Connections = append(hs.Connections, cs)
	}
	e.hostPolicyStatus(h, &hs)
	// One-way skew between the fastest and slowest working path, from RTTs.
	hs.SkewMs = ms(maxRTT-minRTT) / 2
	hs.MaxSkewMs = 500
	if peak := max(h.rate.tx, h.rate.rx); peak > wire.IDSpace {
		hs.MaxSkewMs = idSkewMs(peak)
	}
	keyedHostStatus(h, &hs)
	slices.SortFunc(hs.Connections, func(a, b ConnStatus) int {
		return cmp.Or(cmp.Compare(a.LocalIndex, b.LocalIndex), cmp.Compare(a.RemoteIndex, b.RemoteIndex), cmp.Compare(a.RemoteAddr, b.RemoteAddr))
	})
	return hs
}

func (e *Engine) counterStatus() CounterStatus {
	st := &e.stats
	return CounterStatus{
		TxPackets: st.txPackets.Load(), TxCopies: st.txCopies.Load(), RxPackets: st.rxPackets.Load(),
		Delivered: st.delivered.Load(), DuplicatesDropped: st.duplicatesDropped.Load(),
		MalformedDropped: st.malformedTotal(), LateDuplicates: st.lateDuplicates.Load(),
		UnknownHost: st.unknownHost.Load(), NoHost: st.noHost.Load(), OwnPackets: st.ownPackets.Load(), Misdirected: st.misdirected.Load(), UnprovenDropped: st.unprovenDropped.Load(),
		QueueDrops: st.queueDrops.Load(), SendErrors: st.sendErrors.Load(), ReadErrors: st.readErrors.Load(),
		Oversize: st.oversize.Load(), HostsEvicted: st.hostsEvicted.Load(), PeerRestarts: st.peerRestarts.Load(), ProbesSent: st.probesSent.Load(),
		UnmatchedReplies: st.unmatchedReplies.Load(), ProbesHeld: st.answersHeld.Load(), TxCopiesBlind: st.txCopiesBlind.Load(), LogEventsDropped: st.logDropped.Load(),
		ECNMarked: st.ceMarked.Load(), ECNDropped: st.ceDropped.Load(),
	}
}
