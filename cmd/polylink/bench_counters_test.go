package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/polylink/polylink/testbed"
)

// kernelDrops is where the kernel of one namespace dropped packets: the
// TUN's transmit drops (its queue to the daemon overflowed: the daemon read
// too slowly) and the UDP and raw-socket buffer errors of /proc/net/snmp.
type kernelDrops struct {
	tunTxDropped uint64 // pl0's TX dropped: the daemon did not read in time
	udpRcvbuf    uint64 // Udp RcvbufErrors: a UDP socket's receive buffer was full
	udpSndbuf    uint64 // Udp SndbufErrors: a UDP send found the send buffer full
}

func (k kernelDrops) sub(o kernelDrops) kernelDrops {
	return kernelDrops{k.tunTxDropped - o.tunTxDropped, k.udpRcvbuf - o.udpRcvbuf, k.udpSndbuf - o.udpSndbuf}
}

func (k kernelDrops) String() string {
	return fmt.Sprintf("TUN tx dropped %d, Udp RcvbufErrors %d, SndbufErrors %d", k.tunTxDropped, k.udpRcvbuf, k.udpSndbuf)
}

// readKernelDrops reads ns's counters; what it cannot read stays 0.
func readKernelDrops(ns *testbed.Namespace) kernelDrops {
	var k kernelDrops
	if out, err := ns.Run("cat", "/sys/class/net/pl0/statistics/tx_dropped"); err == nil {
		k.tunTxDropped, _ = strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	}
	out, err := ns.Run("cat", "/proc/net/snmp")
	if err != nil {
		fmt.Fprintln(os.Stderr, "read /proc/net/snmp:", err)
		return k
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		for i, v := range f[1:] {
			if i >= len(names) {
				break
			}
			n, _ := strconv.ParseUint(v, 10, 64)
			switch names[i] {
			case "RcvbufErrors":
				k.udpRcvbuf = n
			case "SndbufErrors":
				k.udpSndbuf = n
			}
		}
	}
	return k
}
