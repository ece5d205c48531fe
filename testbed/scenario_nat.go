package testbed

// Route nat: the deployment a user has, for any scenario. VM0 is a robot
// whose two uplinks each run through a link emulator (net0: wlan0, net1:
// wwan0, where the radio links are) and a strict NAT (NATNet: masquerade,
// TCP/UDP/ICMP only) to VM1, a --router server with a public-style
// address; the daemons run as a user would run them, over UDP, keyed with
// keys made for the run:
//
//	robot wlan0 ─[net0 emulator]─ nat1 ─┐
//	                                    inet ── server 198.18.120.1 (--router, UDP 45820)
//	robot wwan0 ─[net1 emulator]─ nat2 ─┘

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/polylink/polylink/testbed/linkemu"
	"github.com/polylink/polylink/testbed/stream"
)

// RouteNAT is the route of a robot behind two NATs to a server.
const RouteNAT = "nat"

// natUplinks are the robot's NICs on route nat, indexed like its nets.
var natUplinks = [2]string{"wlan0", "wwan0"}

// natPublic are each uplink's NAT's public addresses, before and after a
// readdress event.
var natPublic = [2][2]string{{NAT1Public, NAT1NewPublic}, {NAT2Public, NAT2NewPublic}}

// returnFlowName names the call's other direction on route nat: the
// server's stream to the robot, which makes the robot's own status show
// which path carries what it receives.
const returnFlowName = "polylink, server → robot"

// returnProfile is that stream: 50 packet/s of 200 bytes.
func returnProfile(d time.Duration) stream.Profile { return stream.AudioProfile(50, 200, d) }

// natLab is a NATNet with one robot, as a scenario's lab.
type natLab struct {
	net  *NATNet
	keys string // the run's key files, removed by Down
}

func upNATLab(sc Scenario, opt RunOptions) (*natLab, error) {
	links := [2]linkemu.Config{sc.Links[0], sc.Links[1]}
	n, err := UpNAT(NATOptions{Prefix: opt.Prefix, Robots: 1, Uplinks: natUplinks, Links: &links, Seed: sc.Seed})
	if err != nil {
		return nil, err
	}
	keys, err := os.MkdirTemp(opt.TempDir, "polylink-keys-")
	if err != nil {
		return nil, errors.Join(err, n.Close())
	}
	return &natLab{net: n, keys: keys}, nil
}

// Host returns the robot's namespace for VM0, the server's for VM1.
func (l *natLab) Host(h Host) *Namespace {
	switch h {
	case VM0:
		return l.net.Robots[0]
	case VM1:
		return l.net.Server
	}
	return nil
}

// Emulator returns the emulator of the robot's uplink i (net0: wlan0,
// net1: wwan0).
func (l *natLab) Emulator(i int) *linkemu.Bridge {
	if i >= len(natUplinks) {
		return nil
	}
	return l.net.Emulator(0, i)
}

func (l *natLab) readdress(i int) error { return l.net.Readdress(i + 1) }

// Down removes the network and the run's keys.
func (l *natLab) Down() error { return errors.Join(l.net.Close(), os.RemoveAll(l.keys)) }

// genKey makes a key pair as a user would (`polylink genkey > FILE`,
// `polylink pubkey < FILE`): the private key in a 0600 file under the
// lab's key directory, and the public key.
func (l *natLab) genKey(binary, name string) (file, pub string, err error) {
	priv, err := Cmd(binary, "genkey")
	if err != nil {
		return "", "", err
	}
	file = filepath.Join(l.keys, name+".key")
	if err := os.WriteFile(file, []byte(priv), 0o600); err != nil {
		return "", "", err
	}
	cmd := exec.Command(binary, "pubkey")
	cmd.Stdin = strings.NewReader(priv)
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("%s pubkey: %w", binary, err)
	}
	return file, strings.TrimSpace(string(out)), nil
}

// startDaemons starts the server (VM1) and the robot (VM0), keyed, and
// waits until both see both paths up. Like startDaemons, it returns the
// daemons started so far even on error.
func (l *natLab) startDaemons(sc Scenario, binary, work string) ([]*Daemon, error) {
	serverKey, serverPub, err := l.genKey(binary, "server")
	if err != nil {
		return nil, err
	}
	robotKey, robotPub, err := l.genKey(binary, "robot")
	if err != nil {
		return nil, err
	}
	robotVIP := natRobotVIP(0)
	args := [2][]string{
		{"--vip", natServerVIP + "/24", "--router", "--key", serverKey, "--allow", robotPub + "=" + robotVIP},
		{"--vip", robotVIP + "/24", "--peer", NATServerAddr + ":" + natPortText, "--key", robotKey, "--peer-key", serverPub},
	}
	var ds []*Daemon
	for i, h := range []Host{VM1, VM0} {
		d, err := StartDaemon(l.Host(h), h, binary, filepath.Join(work, h.String()+".sock"),
			filepath.Join(work, h.String()+".log"), append(args[i], sc.DaemonArgs[h]...)...)
		if err != nil {
			return ds, err
		}
		ds = append(ds, d)
	}
	if err := ds[0].WaitPaths(robotVIP, 2, 10*time.Second); err != nil {
		return ds, err
	}
	return ds, ds[1].WaitPaths(natServerVIP, 2, 10*time.Second)
}

// flows are the robot's stream over each bare uplink (a UDP socket bound
// to the NIC, through its NAT to the server's public address) and over
// polylink to the server's virtual address, and the server's stream back.
func (l *natLab) flows(sc Scenario) []flowSpec {
	robot, server := l.Host(VM0), l.Host(VM1)
	var fs []flowSpec
	for i, dev := range natUplinks {
		if sc.NoBare {
			break
		}
		fs = append(fs, flowSpec{sc.bareName(i), robot, dev, server, netip.MustParseAddr(NATServerAddr), bareFlowPort + i, sc.Traffic})
	}
	return append(fs,
		flowSpec{"polylink", robot, "", server, netip.MustParseAddr(natServerVIP), polylinkFlowPort, sc.Traffic},
		flowSpec{returnFlowName, server, "", robot, netip.MustParseAddr(natRobotVIP(0)), polylinkFlowPort + 1, returnProfile(sc.Traffic.Duration)})
}

// natUplinkOf says which uplink's NAT a server-side path's remote address
// ("198.18.122.3:40211") goes through, -1 if neither.
func natUplinkOf(remote string) int {
	host, _, _ := strings.Cut(remote, ":")
	for u, addrs := range natPublic {
		for _, a := range addrs {
			if host == a {
				return u
			}
		}
	}
	return -1
}

// natSummary says, on route nat, where the server reaches the robot (the
// NAT-mapped endpoints of its paths, after any re-addressing) and how the
// call's other direction fared.
func (r *Run) natSummary() string {
	if r.Scenario.Route != RouteNAT {
		return ""
	}
	var b strings.Builder
	if r.Receiver != nil {
		var at []string
		for _, h := range r.Receiver.Hosts {
			for _, c := range h.Connections {
				u := natUplinkOf(c.RemoteAddr)
				if u < 0 {
					continue
				}
				what := fmt.Sprintf("%s's NAT", natUplinks[u])
				if host, _, _ := strings.Cut(c.RemoteAddr, ":"); host == natPublic[u][0] && r.readdressed(u) {
					what += ", its old address"
				}
				at = append(at, fmt.Sprintf("%s (%s) %s", c.RemoteAddr, what, map[bool]string{true: "up", false: "down"}[c.State == 2]))
			}
		}
		slices.Sort(at)
		fmt.Fprintf(&b, "The server's paths to the robot (keyed, the NAT-mapped endpoints it learned): %s.\n", strings.Join(at, ", "))
	}
	if rt := r.Return; rt != nil {
		fmt.Fprintf(&b, "The call's other direction, %s at %.0f packet/s: %d of %d lost, p50 %.1f ms.\n",
			strings.TrimPrefix(rt.Name, "polylink, "), float64(rt.Sent)/r.Scenario.Traffic.Duration.Seconds(), rt.Lost, rt.Sent, rt.Latency.P50)
	}
	return b.String()
}

// readdressed reports whether uplink u's NAT changed its address.
func (r *Run) readdressed(u int) bool {
	return slices.ContainsFunc(r.Scenario.Events, func(e Event) bool { return e.Action == "readdress" && e.Net == u })
}
