package testbed

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// StatusReport is what `polylink testbed status` shows: which namespaces
// and links exist, whether the emulators run, and their impairments and
// counters as of their last status write.
type StatusReport struct {
	Prefix string `json:"prefix"`
	// StateFile is the state file's path, empty if there is none.
	StateFile  string            `json:"state_file,omitempty"`
	Persistent bool              `json:"persistent"`
	Namespaces []NamespaceStatus `json:"namespaces"`
	// EmulatorPID is the process running the emulators: the background
	// process of a persistent testbed, or the process that ran Up.
	EmulatorPID   int       `json:"emulator_pid,omitempty"`
	EmulatorAlive bool      `json:"emulator_alive"`
	Updated       time.Time `json:"updated,omitzero"`
	// Nets are the emulators' last reported configuration and counters.
	Nets []NetStatus `json:"nets,omitempty"`
}

// NamespaceStatus tells whether a namespace exists and what links it has.
type NamespaceStatus struct {
	Name   string       `json:"name"`
	Exists bool         `json:"exists"`
	Links  []LinkStatus `json:"links,omitempty"`
}

// LinkStatus is one interface inside a testbed namespace.
type LinkStatus struct {
	Name  string   `json:"name"`
	Up    bool     `json:"up"`
	Addrs []string `json:"addrs,omitempty"`
}

// Running reports whether the whole testbed is there: every namespace and
// a live emulator.
func (r *StatusReport) Running() bool {
	for _, ns := range r.Namespaces {
		if !ns.Exists {
			return false
		}
	}
	return len(r.Namespaces) > 0 && r.EmulatorAlive
}

// Status inspects the testbed named prefix from any process; stateDir is
// DefaultStateDir when empty. A testbed that does not exist is not an
// error: every namespace shows Exists false.
func Status(prefix, stateDir string) (*StatusReport, error) {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	r := &StatusReport{Prefix: prefix}
	st, err := readState(stateDir, prefix)
	switch {
	case err == nil:
		r.StateFile = statePath(stateDir, prefix)
		r.Persistent = st.Persistent
		emu := st.Owner
		if st.Emulator != nil {
			emu = *st.Emulator
		}
		r.EmulatorPID, r.EmulatorAlive = emu.PID, emu.alive()
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("testbed %s status: %w", prefix, err)
	}
	for _, name := range Namespaces(prefix) {
		r.Namespaces = append(r.Namespaces, namespaceStatus(name))
	}
	var emu emulatorStatus
	if err := readJSON(emuStatusPath(stateDir, prefix), &emu); err == nil {
		r.Updated, r.Nets = emu.Updated, emu.Nets
	}
	return r, nil
}

func namespaceStatus(name string) NamespaceStatus {
	s := NamespaceStatus{Name: name}
	h, err := netns.GetFromName(name)
	if err != nil {
		return s
	}
	defer h.Close()
	s.Exists = true
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return s
	}
	defer nl.Close()
	links, _ := nl.LinkList()
	for _, l := range links {
		a := l.Attrs()
		ls := LinkStatus{Name: a.Name, Up: a.Flags&net.FlagUp != 0}
		addrs, _ := nl.AddrList(l, netlink.FAMILY_V4)
		for _, ad := range addrs {
			ls.Addrs = append(ls.Addrs, ad.IPNet.String())
		}
		s.Links = append(s.Links, ls)
	}
	return s
}
