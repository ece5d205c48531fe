package testbed

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/polylink/polylink/testbed/linkemu"
	"github.com/polylink/polylink/testbed/stream"
)

// RunOptions says how to run a scenario.
type RunOptions struct {
	// Binary is the polylink executable the daemons run.
	Binary string
	// Prefix names the namespaces; a unique one by default.
	Prefix string
	// Progress, if set, gets one line per step for a person watching.
	Progress func(string)
	// TempDir holds the run's working directory (daemon sockets and logs)
	// and, on route nat, its key files; os.TempDir() when empty. Both are
	// removed at the end (the logs are kept when the run fails).
	TempDir string
}

// lab is what a scenario runs on: the seed's VM topology (Topology) or a
// robot behind two NATs (natLab, route nat).
type lab interface {
	Host(h Host) *Namespace
	Emulator(i int) *linkemu.Bridge
	Down() error
	startDaemons(sc Scenario, binary, work string) ([]*Daemon, error)
	flows(sc Scenario) []flowSpec
	readdress(net int) error
}

// Run is what a scenario produced.
type Run struct {
	Scenario Scenario `json:"scenario"`
	// Results has one entry per system the stream crossed: "link 0" and
	// "link 1" (the bare networks, route direct; on route nat "wlan0
	// alone" and "wwan0 alone") and "polylink".
	Results []stream.Result `json:"results"`
	// Return is the server's stream back to the robot (route nat).
	Return *stream.Result `json:"return,omitempty"`
	// SenderStatus is `polylink status` on VM0 at the end of the stream,
	// as a user would see it.
	SenderStatus string `json:"sender_status,omitempty"`
	// SenderPaths are VM0's paths to the stream's first hop at the end.
	SenderPaths []PathStatus `json:"sender_paths"`
	// Receiver is the receiving daemon's status at the end.
	Receiver *DaemonStatus `json:"receiver"`
	// Bulk is the upload's result, when the scenario has one.
	Bulk *BulkResult `json:"bulk,omitempty"`
	// Nets are the emulators' counters at the end, indexed like Nets.
	Nets [len(Nets)]*linkemu.BridgeStats `json:"nets"`
}

// Result returns the result of the named system, nil if absent.
func (r *Run) Result(name string) *stream.Result {
	for i := range r.Results {
		if r.Results[i].Name == name {
			return &r.Results[i]
		}
	}
	return nil
}

// Ports of the scenario flows, in the receiving namespace.
const (
	bareFlowPort     = 5100 // + net index
	polylinkFlowPort = 5200
)

// RunScenario builds the testbed, starts polylink on its hosts, runs the
// scenario's stream over polylink (and over each bare link, route direct),
// applies its events, and takes everything down again, on failure and on
// ctx's cancellation too.
func RunScenario(ctx context.Context, sc Scenario, opt RunOptions) (run *Run, err error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if opt.Binary == "" {
		return nil, errors.New("testbed: RunOptions.Binary: no polylink binary given")
	}
	if opt.Prefix == "" {
		opt.Prefix = UniqueName("pltb-run")
	}
	say := opt.Progress
	if say == nil {
		say = func(string) {}
	}
	work, err := os.MkdirTemp(opt.TempDir, "polylink-testbed-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil || ctx.Err() != nil {
			os.RemoveAll(work)
		} else {
			err = fmt.Errorf("%w (daemon logs kept in %s)", err, work)
		}
	}()

	var top lab
	if sc.Route == RouteNAT {
		say(fmt.Sprintf("building: a robot, its two uplinks (emulated links) each behind a strict NAT, a server (%s-*)", opt.Prefix))
		top, err = upNATLab(sc, opt)
	} else {
		say(fmt.Sprintf("building the testbed: 3 hosts, 4 emulated networks (%s-*)", opt.Prefix))
		top, err = Up(ctx, UpOptions{Prefix: opt.Prefix, Links: sc.Links, Seed: sc.Seed})
	}
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, top.Down()) }()

	daemons, err := top.startDaemons(sc, opt.Binary, work)
	defer func() {
		for i := len(daemons) - 1; i >= 0; i-- {
			err = errors.Join(err, daemons[i].Stop())
		}
	}()
	if err != nil {
		return nil, err
	}
	say("polylink up on every host, every path handshaken")

	start := stream.Now() + int64(200*time.Millisecond)
	flows, closeFlows, err := openFlows(top.flows(sc), start)
	defer closeFlows()
	if err != nil {
		return nil, err
	}
	say(fmt.Sprintf("streaming %.0f packet/s for %v over %d systems at once",
		float64(sc.Traffic.ExpectedPackets())/sc.Traffic.Duration.Seconds(), sc.Traffic.Duration, len(top.flows(sc))))
	var bulk *bulkUpload
	if sc.Bulk != nil {
		d := time.Duration(sc.Bulk.Duration)
		if d == 0 {
			d = sc.Traffic.Duration
		}
		if bulk, err = startBulk(ctx, top, VM1, VM1.Virtual().Addr().String(), d, time.Duration(start-stream.Now())); err != nil {
			return nil, err
		}
		defer bulk.close()
		say(fmt.Sprintf("and a TCP upload (iperf3) for %v beside it", d))
	}
	evCtx, stopEvents := context.WithCancel(ctx)
	evDone := make(chan error, 1)
	go func() { evDone <- playEvents(evCtx, top, sc, start, say) }()
	results, err := stream.Measure(ctx, flows, stream.Options{Deadline: time.Duration(sc.Deadline), Windows: sc.Cuts()})
	stopEvents()
	if evErr := <-evDone; evErr != nil && err == nil {
		err = evErr
	}
	if err != nil {
		return nil, err
	}
	run = &Run{Scenario: sc}
	for i := range results {
		if results[i].Name == returnFlowName {
			run.Return = &results[i]
		} else {
			run.Results = append(run.Results, results[i])
		}
	}
	if bulk != nil {
		if run.Bulk, err = bulk.result(); err != nil {
			return nil, err
		}
	}
	for i := range Nets {
		if em := top.Emulator(i); em != nil {
			st := em.Stats()
			run.Nets[i] = &st
		}
	}
	sender, receiver := daemons[1], daemons[0]
	if sc.Route == RouteRouter {
		receiver = daemons[2]
	}
	if s, err := sender.Status(); err == nil {
		for _, h := range s.Hosts {
			run.SenderPaths = append(run.SenderPaths, h.Connections...)
		}
	}
	run.Receiver, _ = receiver.Status()
	run.SenderStatus, _ = top.Host(VM0).Run(opt.Binary, "status", "--control", sender.Control)
	return run, nil
}

// startDaemons starts polylink on VM1 (the router), VM0 and, on the router
// route, VM2, and waits until every host has both its paths up. The
// daemons started so far are returned even on error, to be stopped.
func (top *Topology) startDaemons(sc Scenario, binary, work string) ([]*Daemon, error) {
	route := sc.Route
	type spec struct {
		h    Host
		args []string
	}
	specs := []spec{
		{VM1, []string{"--vip", VM1.Virtual().String(), "--router"}},
		{VM0, []string{"--vip", VM0.Virtual().String(), "--peer", Nets[0].Right.Addr.Addr().String(), "--peer", Nets[1].Right.Addr.Addr().String()}},
	}
	if route == RouteRouter {
		specs = append(specs, spec{VM2, []string{"--vip", VM2.Virtual().String(),
			"--peer", Nets[2].Left.Addr.Addr().String(), "--peer", Nets[3].Left.Addr.Addr().String()}})
	}
	var ds []*Daemon
	for _, s := range specs {
		d, err := StartDaemon(top.Host(s.h), s.h, binary, filepath.Join(work, s.h.String()+".sock"),
			filepath.Join(work, s.h.String()+".log"), append(s.args, sc.DaemonArgs[s.h]...)...)
		if err != nil {
			return ds, err
		}
		ds = append(ds, d)
	}
	for _, d := range ds[1:] {
		if err := d.WaitPaths(VM1.Virtual().Addr().String(), 2, 10*time.Second); err != nil {
			return ds, err
		}
	}
	return ds, nil
}

// flowSpec is one stream of a scenario: from a namespace (through the NIC
// dev, if set) to dst:port, received in another.
type flowSpec struct {
	name    string
	from    *Namespace
	dev     string
	to      *Namespace
	dst     netip.Addr
	port    int
	profile stream.Profile
}

// flows are VM0's streams: over each bare link (route direct) and over
// polylink to VM1, or on route router over polylink to VM2.
func (top *Topology) flows(sc Scenario) []flowSpec {
	vm0 := top.Host(VM0)
	if sc.Route == RouteRouter {
		return []flowSpec{{"polylink", vm0, "", top.Host(VM2), VM2.Virtual().Addr(), polylinkFlowPort, sc.Traffic}}
	}
	var fs []flowSpec
	for i := range 2 {
		if sc.NoBare {
			break
		}
		fs = append(fs, flowSpec{sc.bareName(i), vm0, "", top.Host(VM1), Nets[i].Right.Addr.Addr(), bareFlowPort + i, sc.Traffic})
	}
	return append(fs, flowSpec{"polylink", vm0, "", top.Host(VM1), VM1.Virtual().Addr(), polylinkFlowPort, sc.Traffic})
}

func (top *Topology) readdress(int) error {
	return errors.New("the VM topology has no NAT to re-address")
}

// openFlows opens the streams, all on one time axis.
func openFlows(specs []flowSpec, start int64) ([]stream.Flow, func(), error) {
	var flows []stream.Flow
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for _, f := range specs {
		fl, c, err := OpenFlowVia(f.name, f.from, f.dev, f.to, f.dst, f.port, f.profile, start)
		if err != nil {
			return nil, closeAll, err
		}
		flows, closers = append(flows, fl), append(closers, c)
	}
	return flows, closeAll, nil
}

// playEvents applies the scenario's events at their times after start.
func playEvents(ctx context.Context, top lab, sc Scenario, start int64, say func(string)) error {
	for _, e := range sc.Events {
		wait := time.Duration(start + int64(e.At) - stream.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		em := top.Emulator(e.Net)
		if em == nil {
			return fmt.Errorf("event at %v: %s has no emulator in this process", time.Duration(e.At), sc.netName(e.Net))
		}
		what := e.Action + " " + sc.netName(e.Net)
		switch e.Action {
		case "cut":
			em.SetDown(true)
		case "restore":
			em.SetDown(false)
		case "impair":
			if err := em.SetImpairment(*e.Impairment); err != nil {
				return fmt.Errorf("event at %v: %w", time.Duration(e.At), err)
			}
		case "readdress":
			if err := top.readdress(e.Net); err != nil {
				return fmt.Errorf("event at %v: %w", time.Duration(e.At), err)
			}
			what = fmt.Sprintf("%s's NAT changes its public address %s → %s", sc.netName(e.Net), natPublic[e.Net][0], natPublic[e.Net][1])
		}
		say(fmt.Sprintf("  t=%v: %s", time.Duration(e.At), what))
	}
	return nil
}
