package testbed

// The nat scenario: the deployment a user has on real uplinks. Two robots,
// each with two uplinks behind the same two strict NATs (NATNet), a
// --router server; each robot streams to the server over UDP while one
// uplink is cut for 3 s and then its NAT changes its public address.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/polylink/polylink/testbed/stream"
)

// NATRunOptions configures RunNAT.
type NATRunOptions struct {
	// Binary is the polylink binary the daemons run.
	Binary string
	// Progress, if not nil, gets one line per step.
	Progress func(string)
	// Prefix names the namespaces (default "pl-nat").
	Prefix string
}

// NATRun is what RunNAT measured.
type NATRun struct {
	// Results are the robots' streams to the server, in robot order.
	Results []stream.Result `json:"results"`
	// MappedBefore and MappedAfter are the server's up paths to each robot
	// (NAT-mapped endpoints) before the cut and after nat1's re-addressing.
	MappedBefore [2][]string `json:"mapped_before"`
	MappedAfter  [2][]string `json:"mapped_after"`
	// Followed is how long the server took to reach both robots through
	// nat1's new address.
	Followed time.Duration `json:"followed_ns"`
	// Blocked are the robots' ipip_blocked entries ("eth0 198.18.120.1").
	Blocked [2][]string `json:"ipip_blocked"`
}

const (
	natServerVIP = "198.19.120.1"
	natPortText  = "45820"
)

func natRobotVIP(r int) string { return fmt.Sprintf("198.19.120.1%d", r+1) }

// RunNAT runs the nat scenario and removes everything it made, on failure
// and on ctx's end too.
func RunNAT(ctx context.Context, opt NATRunOptions) (*NATRun, error) {
	progress := opt.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if opt.Prefix == "" {
		opt.Prefix = "pl-nat"
	}
	progress("building: 2 robots × 2 uplinks behind the same 2 strict NATs (masquerade, TCP/UDP/ICMP only), a server")
	n, err := UpNAT(NATOptions{Prefix: opt.Prefix})
	if err != nil {
		return nil, err
	}
	defer n.Close()
	dir, err := os.MkdirTemp("", "polylink-nat-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var daemons []*Daemon
	defer func() {
		for _, d := range daemons {
			_ = d.Stop()
		}
	}()
	start := func(ns *Namespace, h Host, name string, args ...string) (*Daemon, error) {
		d, err := StartDaemon(ns, h, opt.Binary, filepath.Join(dir, name+".sock"), filepath.Join(dir, name+".log"), args...)
		if err == nil {
			daemons = append(daemons, d)
		}
		return d, err
	}
	server, err := start(n.Server, VM1, "server", "--vip", natServerVIP+"/24", "--router", "--probe", "50ms")
	if err != nil {
		return nil, err
	}
	var robots [2]*Daemon
	for r := range robots {
		if robots[r], err = start(n.Robots[r], Host(2*r), fmt.Sprintf("robot%d", r+1), "--vip", natRobotVIP(r)+"/24",
			"--peer", NATServerAddr+":"+natPortText, "--peer", NATServerAddr, "--probe", "50ms"); err != nil {
			return nil, err
		}
	}
	progress("polylink on the server (--router) and both robots (--peer " + NATServerAddr + ":" + natPortText + " and raw " + NATServerAddr + ")")
	for r := range robots {
		if err := server.WaitPaths(natRobotVIP(r), 2, 10*time.Second); err != nil {
			return nil, fmt.Errorf("robot %d's paths never came up at the server: %w", r+1, err)
		}
	}
	run := &NATRun{}
	for r := range robots {
		run.MappedBefore[r] = mapped(server, natRobotVIP(r))
	}

	var flows []stream.Flow
	t0 := stream.Now() + int64(200*time.Millisecond) // the streams' common start
	for r := range robots {
		f, closeFlow, err := OpenFlow(fmt.Sprintf("robot %d → server", r+1), n.Robots[r], n.Server,
			netip.MustParseAddr(natServerVIP), 7001+r, stream.AudioProfile(500, 200, 12*time.Second), t0)
		if err != nil {
			return nil, err
		}
		defer closeFlow()
		flows = append(flows, f)
	}
	progress("streaming 500 packet/s from each robot for 12 s")
	var (
		results []stream.Result
		mErr    error
		wg      sync.WaitGroup
	)
	wg.Go(func() { results, mErr = stream.Measure(ctx, flows, stream.Options{Windows: natWindows}) })
	if err := natEvents(ctx, n, server, run, t0, progress); err != nil {
		wg.Wait()
		return nil, err
	}
	wg.Wait()
	if mErr != nil {
		return nil, mErr
	}
	run.Results = results
	for r, d := range robots {
		// Waited for, not read once: a path flapping on a loaded machine
		// restarts the daemon's 2 s hold before it reports a NIC blocked.
		deadline := time.Now().Add(3 * time.Second)
		for run.Blocked[r] = blockedOf(d); len(run.Blocked[r]) < 2 && time.Now().Before(deadline); run.Blocked[r] = blockedOf(d) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return run, nil
}

// natWindows are the stretches of the nat scenario's streams whose loss
// is reported apart (and shaded in a plot): nat1's cut, the second after
// it, and the second after its re-addressing.
var natWindows = []stream.Window{
	{Label: "nat1 cut", From: 2 * time.Second, To: 5 * time.Second},
	{Label: "nat1 back", From: 5 * time.Second, To: 6 * time.Second},
	{Label: "nat1 re-addressed", From: 7 * time.Second, To: 8 * time.Second},
}

// natEvents cuts nat1's uplink at 2 s for 3 s, and re-addresses nat1 at 7 s
// after the streams' start (stream.Now() time).
func natEvents(ctx context.Context, n *NATNet, server *Daemon, run *NATRun, start int64, progress func(string)) error {
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	until := func(at time.Duration) error { return sleep(time.Duration(start + int64(at) - stream.Now())) }
	if err := until(natWindows[0].From); err != nil {
		return err
	}
	progress("  t=2s: cut nat1's uplink (both robots' eth0)")
	if err := n.CutUplink(1, true); err != nil {
		return err
	}
	if err := until(natWindows[0].To); err != nil {
		return errors.Join(err, n.CutUplink(1, false))
	}
	progress("  t=5s: restore it")
	if err := n.CutUplink(1, false); err != nil {
		return err
	}
	if err := until(natWindows[2].From); err != nil {
		return err
	}
	progress("  t=7s: nat1 changes its public address " + NAT1Public + " → " + NAT1NewPublic)
	at := time.Now()
	if err := n.ReaddressNAT1(); err != nil {
		return err
	}
	for time.Since(at) < 4*time.Second {
		if followed(server, NAT1NewPublic) {
			run.Followed = time.Since(at)
			break
		}
		if err := sleep(10 * time.Millisecond); err != nil {
			return err
		}
	}
	if err := sleep(time.Second); err != nil { // the old mapping's paths time out
		return err
	}
	for r := range run.MappedAfter {
		run.MappedAfter[r] = mapped(server, natRobotVIP(r))
	}
	return nil
}

// mapped lists the endpoints of d's up paths to host vip.
func mapped(d *Daemon, vip string) []string {
	st, err := d.Status()
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range st.Hosts {
		for _, c := range h.Connections {
			if h.VIP == vip && c.State == 2 {
				out = append(out, c.RemoteAddr)
			}
		}
	}
	slices.Sort(out)
	return out
}

// followed reports whether d reaches both robots through addr.
func followed(d *Daemon, addr string) bool {
	for r := range 2 {
		if !slices.ContainsFunc(mapped(d, natRobotVIP(r)), func(s string) bool { return strings.HasPrefix(s, addr+":") }) {
			return false
		}
	}
	return true
}

// blockedOf reads d's ipip_blocked status entries.
func blockedOf(d *Daemon) []string {
	c, err := net.DialTimeout("unix", d.Control, time.Second)
	if err != nil {
		return nil
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("status\n")); err != nil {
		return nil
	}
	var st struct {
		Blocked []struct{ Local, Peer string } `json:"ipip_blocked"`
	}
	if json.NewDecoder(c).Decode(&st) != nil {
		return nil
	}
	var out []string
	for _, b := range st.Blocked {
		out = append(out, b.Local+" "+b.Peer)
	}
	return out
}
