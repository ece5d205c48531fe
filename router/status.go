package router

// Status is the router's part of `polylink status`.
type Status struct {
	TUN      TUNStatus     `json:"tun"`
	Relay    bool          `json:"relay"`
	Exit     bool          `json:"exit"`
	Routes   []RouteStatus `json:"routes"`
	Counters CounterStatus `json:"counters"`
}

// TUNStatus names the node's TUN device.
type TUNStatus struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	Addr  string `json:"addr"`
	MTU   int    `json:"mtu"`
}

// RouteStatus is one static route.
type RouteStatus struct {
	Prefix string `json:"prefix"`
	Via    string `json:"via"`
}

// CounterStatus are the router's counters.
type CounterStatus struct {
	TUNRead        uint64 `json:"tun_read"`
	TUNWritten     uint64 `json:"tun_written"`
	TUNWriteErrors uint64 `json:"tun_write_errors"`
	Sent           uint64 `json:"sent"`
	Forwarded      uint64 `json:"forwarded"`
	NoRoute        uint64 `json:"no_route_dropped"`
	TTLExpired     uint64 `json:"ttl_expired"`
	NotIPv4        uint64 `json:"not_ipv4_dropped"`
	ICMPSent       uint64 `json:"icmp_sent"`
	SendFailed     uint64 `json:"send_failed"`
	Truncated      uint64 `json:"truncated_dropped"`
	// Spoofed counts packets whose source the sending host may not use.
	Spoofed uint64 `json:"spoofed_source_dropped"`
	// Transit counts packets for other hosts reaching a node that is no router.
	Transit uint64 `json:"transit_dropped"`
	// BadHost counts packets from hosts claiming an address that is no host
	// of the virtual network (outside it, its network or broadcast address).
	BadHost uint64 `json:"bad_host_addr_dropped"`
	// Exited counts packets an exit node handed its kernel to forward out.
	Exited uint64 `json:"exited"`
	// TooBig counts DF packets larger than the path MTU, answered with ICMP
	// fragmentation needed (see SetPathMTU).
	TooBig uint64 `json:"too_big_dropped"`
}

// Status snapshots the router.
func (r *Router) Status() Status {
	s := Status{
		TUN:    TUNStatus{Name: r.dev.Name(), Index: r.dev.Index(), Addr: r.prefix.String(), MTU: r.dev.MTU()},
		Relay:  r.relay,
		Exit:   r.exit,
		Routes: []RouteStatus{},
	}
	for _, rt := range r.staticRoutes() {
		s.Routes = append(s.Routes, RouteStatus{Prefix: rt.Prefix.String(), Via: rt.Via.String()})
	}
	st := &r.stats
	s.Counters = CounterStatus{
		TUNRead: st.tunRead.Load(), TUNWritten: st.tunWritten.Load(), TUNWriteErrors: st.tunWriteErrors.Load(),
		Sent: st.sent.Load(), Forwarded: st.forwarded.Load(), NoRoute: st.noRoute.Load(),
		TTLExpired: st.ttlExpired.Load(), NotIPv4: st.notIPv4.Load(), ICMPSent: st.icmpSent.Load(),
		SendFailed: st.sendFailed.Load(), Truncated: st.truncated.Load(),
		Spoofed: st.spoofed.Load(), Transit: st.transit.Load(), BadHost: st.badHost.Load(),
		Exited: st.exited.Load(), TooBig: st.tooBig.Load(),
	}
	return s
}
