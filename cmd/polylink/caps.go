package main

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// neededCaps are the capabilities `run` uses: CAP_NET_ADMIN to create and
// configure the TUN, CAP_NET_RAW for the raw IP-in-IP sockets and
// SO_BINDTODEVICE. Root holds both; so does an unprivileged user given them
// as ambient capabilities (systemd's AmbientCapabilities=, setpriv) or as
// file capabilities on the binary (setcap).
var neededCaps = []struct {
	bit  uint
	name string
}{
	{unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"},
	{unix.CAP_NET_RAW, "CAP_NET_RAW"},
}

// effectiveCaps returns the calling thread's effective capability set as a
// 64-bit mask. Capabilities are per thread, but Go starts every thread from
// the process's first, so one thread's set is the process's.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3 fills two 32-bit words
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

// missingCaps names the needed capabilities absent from the effective set
// eff.
func missingCaps(eff uint64) []string {
	var miss []string
	for _, c := range neededCaps {
		if eff&(1<<c.bit) == 0 {
			miss = append(miss, c.name)
		}
	}
	return miss
}

// checkCaps fails with one line naming each missing capability and the
// ways to grant it, instead of a permission error deep in TUN set-up.
func checkCaps() error {
	eff, err := effectiveCaps()
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return capsError(missingCaps(eff))
}

func capsError(miss []string) error {
	if len(miss) == 0 {
		return nil
	}
	return fmt.Errorf("run: missing %s (needed for the TUN and the raw sockets): run as root, "+
		"or grant them: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW in the systemd unit, "+
		"'setpriv --inh-caps +net_admin,+net_raw --ambient-caps +net_admin,+net_raw', "+
		"or 'setcap cap_net_admin,cap_net_raw+ep' on the binary", strings.Join(miss, " and "))
}

// Who may ask the daemon for status: the control socket is created owned by
// the daemon's user and primary group, mode 0660, in a directory of mode
// 0750 when the daemon creates it. Under the systemd unit (User=polylink,
// Group=polylink, RuntimeDirectory=polylink with mode 0750) an operator
// added to the polylink group runs `polylink status` without sudo; nobody
// else can (status shows the network's addresses and traffic).
const (
	socketDirMode = 0o750
	socketUmask   = 0o117 // sockets are created 0777 &^ umask: 0660
)
