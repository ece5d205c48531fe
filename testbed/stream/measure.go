package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Flow is one stream to measure: a Sender, the Receiver of its packets, and
// the name of the system it crosses ("link 0", "polylink").
type Flow struct {
	Name     string
	Sender   *Sender
	Receiver *Receiver
}

// Outcome is the raw record of one flow's run, kept so it can be analysed
// again, e.g. with windows measured while it ran.
type Outcome struct {
	Name    string
	Sent    SenderStats
	Capture Capture
}

// Analyze returns the outcome's Result.
func (o Outcome) Analyze(opt Options) Result {
	return Analyze(o.Name, o.Sent, o.Capture, opt)
}

// Measure runs all flows at the same time (see RunFlows) and returns one
// Result per flow, in order.
func Measure(ctx context.Context, flows []Flow, opt Options) ([]Result, error) {
	outcomes, err := RunFlows(ctx, flows, opt.withDefaults().Drain)
	results := make([]Result, len(outcomes))
	for i, o := range outcomes {
		results[i] = o.Analyze(opt)
	}
	return results, err
}

// RunFlows runs all flows at the same time and returns one Outcome per flow,
// in order. Receivers start first, then all senders; once every sender has
// finished, receivers keep listening for drain and are then stopped.
// Cancelling ctx stops everything early; the outcomes so far are returned
// with the error.
func RunFlows(ctx context.Context, flows []Flow, drain time.Duration) ([]Outcome, error) {
	recvCtx, stopReceivers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReceivers()

	outcomes := make([]Outcome, len(flows))
	sendErrs := make([]error, len(flows))
	recvErrs := make([]error, len(flows))
	var receivers, senders sync.WaitGroup
	for i, f := range flows {
		outcomes[i].Name = f.Name
		receivers.Go(func() { outcomes[i].Capture, recvErrs[i] = f.Receiver.Run(recvCtx) })
	}
	for i, f := range flows {
		senders.Go(func() { outcomes[i].Sent, sendErrs[i] = f.Sender.Run(ctx) })
	}
	senders.Wait()
	select {
	case <-time.After(drain):
	case <-ctx.Done():
	}
	stopReceivers()
	receivers.Wait()

	var errs []error
	for i, f := range flows {
		for _, err := range []error{sendErrs[i], recvErrs[i]} {
			if err != nil {
				errs = append(errs, fmt.Errorf("flow %q: %w", f.Name, err))
			}
		}
	}
	return outcomes, errors.Join(errs...)
}
