package main

import "github.com/polylink/polylink/wire"

// innerTOS returns the TOS byte of the IPv4 packet a data bundle carries,
// and 0 (best effort) for probes and anything unparsable: the outer copy
// on every path then carries the media's DSCP (EF, AF4x), which Wi-Fi WMM
// and carrier QoS act on.
func innerTOS(pkt []byte) uint8 {
	var h wire.Header
	body, err := wire.Decode(pkt, &h)
	if err != nil || !h.Forward || len(body) < 2 || body[0]>>4 != 4 {
		return 0
	}
	return body[1]
}
