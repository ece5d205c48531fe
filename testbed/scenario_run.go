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
}

// Run is what a scenario produced.
type Run struct {
	Scenario Scenario `json:"scenario"`
	// Results has one entry per system the stream crossed: "link 0" and
	// "link 1" (the bare networks, route direct only) and "polylink".
	Results []stream.Result `json:"results"`
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
	work, err := os.MkdirTemp("", "polylink-testbed-")
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

	say(fmt.Sprintf("building the testbed: 3 hosts, 4 emulated networks (%s-*)", opt.Prefix))
	top, err := Up(ctx, UpOptions{Prefix: opt.Prefix, Links: sc.Links, Seed: sc.Seed})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, top.Down()) }()

	daemons, err := startDaemons(top, sc, opt.Binary, work)
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
	flows, closeFlows, err := openFlows(top, sc, start)
	defer closeFlows()
	if err != nil {
		return nil, err
	}
	say(fmt.Sprintf("streaming %.0f packet/s for %v over %d systems at once",
		float64(sc.Traffic.ExpectedPackets())/sc.Traffic.Duration.Seconds(), sc.Traffic.Duration, len(flows)))
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
	go func() { evDone <- playEvents(evCtx, top, sc.Events, start, say) }()
	results, err := stream.Measure(ctx, flows, stream.Options{Deadline: time.Duration(sc.Deadline), Windows: sc.Cuts()})
	stopEvents()
	if evErr := <-evDone; evErr != nil && err == nil {
		err = evErr
	}
	if err != nil {
		return nil, err
	}
	run = &Run{Scenario: sc, Results: results}
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
	return run, nil
}

// startDaemons starts polylink on VM1 (the router), VM0 and, on the router
// route, VM2, and waits until every host has both its paths up. The
// daemons started so far are returned even on error, to be stopped.
func startDaemons(top *Topology, sc Scenario, binary, work string) ([]*Daemon, error) {
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

// openFlows opens the scenario's streams, all on one time axis.
func openFlows(top *Topology, sc Scenario, start int64) ([]stream.Flow, func(), error) {
	var flows []stream.Flow
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	add := func(name string, to Host, dst netip.Addr, port int) error {
		f, c, err := OpenFlow(name, top.Host(VM0), top.Host(to), dst, port, sc.Traffic, start)
		if err != nil {
			return err
		}
		flows, closers = append(flows, f), append(closers, c)
		return nil
	}
	if sc.Route == RouteDirect {
		for i := range 2 {
			if sc.NoBare {
				break
			}
			if err := add(fmt.Sprintf("link %d", i), VM1, Nets[i].Right.Addr.Addr(), bareFlowPort+i); err != nil {
				return nil, closeAll, err
			}
		}
		return flows, closeAll, add("polylink", VM1, VM1.Virtual().Addr(), polylinkFlowPort)
	}
	return flows, closeAll, add("polylink", VM2, VM2.Virtual().Addr(), polylinkFlowPort)
}

// playEvents applies the scenario's events at their times after start.
func playEvents(ctx context.Context, top *Topology, events []Event, start int64, say func(string)) error {
	for _, e := range events {
		wait := time.Duration(start + int64(e.At) - stream.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		em := top.Emulator(e.Net)
		if em == nil {
			return fmt.Errorf("event at %v: %s has no emulator in this process", time.Duration(e.At), Nets[e.Net].Name)
		}
		switch e.Action {
		case "cut":
			em.SetDown(true)
		case "restore":
			em.SetDown(false)
		case "impair":
			if err := em.SetImpairment(*e.Impairment); err != nil {
				return fmt.Errorf("event at %v: %w", time.Duration(e.At), err)
			}
		}
		say(fmt.Sprintf("  t=%v: %s %s", time.Duration(e.At), e.Action, Nets[e.Net].Name))
	}
	return nil
}
