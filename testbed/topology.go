package testbed

import (
	"fmt"
	"net/netip"
	"os/exec"
	"sync"

	"go.uber.org/zap"

	"github.com/polylink/polylink/testbed/linkemu"
)

// The seed's network (DESIGN.md, "Testbed"), one namespace per host and one
// per network, the emulator in the middle of each network:
//
//	VM0 eth0 198.18.0.2 ─ left [net0] right ─ eth0 198.18.0.3 VM1 eth2 198.18.2.3 ─ left [net2] right ─ eth0 198.18.2.2 VM2
//	VM0 eth1 198.18.1.2 ─ left [net1] right ─ eth1 198.18.1.3 VM1 eth3 198.18.3.3 ─ left [net3] right ─ eth1 198.18.3.2 VM2
//
// Hosts do not route between networks: VM0 reaches VM2 only through
// polylink's virtual network, 198.19.0.0/24, in which VM1 is the router.

// Host is one of the testbed's three machines.
type Host int

// The testbed's hosts; VM1 is the router node.
const (
	VM0 Host = iota
	VM1
	VM2
)

// Hosts lists every host.
var Hosts = [...]Host{VM0, VM1, VM2}

// String returns "vm0", "vm1" or "vm2", the host's namespace suffix.
func (h Host) String() string { return fmt.Sprintf("vm%d", int(h)) }

// VirtualNet is polylink's virtual network in the testbed.
var VirtualNet = netip.MustParsePrefix("198.19.0.0/24")

// Virtual returns the host's address and prefix on polylink's virtual
// network: VM1 (router) 198.19.0.1, VM0 .2, VM2 .3.
func (h Host) Virtual() netip.Prefix {
	last := [...]byte{2, 1, 3}[h]
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, 0, last}), 24)
}

// End is a host's NIC on one network.
type End struct {
	Host Host
	// Dev is the interface name inside the host's namespace.
	Dev string
	// Addr is the NIC's underlay address and prefix.
	Addr netip.Prefix
}

// NetSpec is one emulated network: the network namespace in the middle
// holds the veth ends "left" (toward Left) and "right" (toward Right), and
// the emulator bridges them; linkemu.Config.AB shapes left→right.
type NetSpec struct {
	Name        string
	Left, Right End
}

// Nets is DESIGN.md's table: VM0 reaches the router VM1 over net0 and net1,
// VM2 over net2 and net3.
var Nets = [...]NetSpec{
	{"net0", End{VM0, "eth0", netip.MustParsePrefix("198.18.0.2/24")}, End{VM1, "eth0", netip.MustParsePrefix("198.18.0.3/24")}},
	{"net1", End{VM0, "eth1", netip.MustParsePrefix("198.18.1.2/24")}, End{VM1, "eth1", netip.MustParsePrefix("198.18.1.3/24")}},
	{"net2", End{VM1, "eth2", netip.MustParsePrefix("198.18.2.3/24")}, End{VM2, "eth0", netip.MustParsePrefix("198.18.2.2/24")}},
	{"net3", End{VM1, "eth3", netip.MustParsePrefix("198.18.3.3/24")}, End{VM2, "eth1", netip.MustParsePrefix("198.18.3.2/24")}},
}

// The emulator's veth ends inside each network namespace.
const (
	netLeftDev  = "left"
	netRightDev = "right"
)

// DefaultPrefix names the user's persistent testbed: namespaces pltb-vm0 …
// pltb-net3.
const DefaultPrefix = "pltb"

// DefaultStateDir holds each testbed's state file, emulator status and log.
const DefaultStateDir = "/run/polylink-testbed"

// UpOptions configures Up. The zero value builds an unimpaired in-process
// testbed named DefaultPrefix.
type UpOptions struct {
	// Prefix starts every namespace name; DefaultPrefix when empty. Tests
	// use UniqueName so they never meet a user's testbed.
	Prefix string
	// Links configures each network's emulator, indexed like Nets. A zero
	// Seed is replaced by one derived from Seed and the index, so networks
	// lose frames independently.
	Links [len(Nets)]linkemu.Config
	// Seed is the base of the derived seeds.
	Seed uint64
	// Persistent runs the emulators in a background process of their own
	// that outlives the caller (`polylink testbed up`); otherwise they run
	// as goroutines of the caller until Down.
	Persistent bool
	// EmulatorCommand returns the command that runs RunEmulators(prefix,
	// stateDir) for a persistent testbed; by default this executable with
	// `testbed emulate --prefix P --state-dir D`.
	EmulatorCommand func(prefix, stateDir string) *exec.Cmd
	// StateDir is where state files go; DefaultStateDir when empty.
	StateDir string
	// Logger reports building and tearing down; zap.NewNop() when nil.
	Logger *zap.Logger
}

// Topology is a testbed that Up built. Down removes it; Down is idempotent
// and safe to call from any goroutine, a signal handler's included. For
// Ctrl-C, pass Up a context from signal.NotifyContext (Up rolls back when
// it is cancelled) and call Down when that context is done.
type Topology struct {
	// Prefix starts every namespace name.
	Prefix string
	// StateDir holds the state file.
	StateDir string

	hosts [len(Hosts)]*Namespace
	nets  [len(Nets)]*Namespace
	links [len(Nets)]linkemu.Config
	log   *zap.Logger

	mu        sync.Mutex
	emulators [len(Nets)]*linkemu.Bridge // guarded by mu; in-process only
	proc      *exec.Cmd                  // guarded by mu; persistent only
	procDone  chan struct{}              // closed when proc has exited
	stopState func()                     // guarded by mu; stops the status writer
	down      bool                       // guarded by mu
}

// Host returns the namespace of host h.
func (t *Topology) Host(h Host) *Namespace { return t.hosts[h] }

// Net returns the namespace of network i (index into Nets).
func (t *Topology) Net(i int) *Namespace { return t.nets[i] }

// Emulator returns network i's emulator, or nil when the emulators run in
// a background process (Persistent).
func (t *Topology) Emulator(i int) *linkemu.Bridge {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.emulators[i]
}

// Namespaces returns the names of every namespace of a testbed with prefix.
func Namespaces(prefix string) []string {
	var names []string
	for _, h := range Hosts {
		names = append(names, prefix+"-"+h.String())
	}
	for _, n := range Nets {
		names = append(names, prefix+"-"+n.Name)
	}
	return names
}
