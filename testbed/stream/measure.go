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

// Measure runs all flows at the same time and returns one Result per flow,
// in order. Receivers start first, then all senders; once every sender has
// finished, receivers keep listening for opt.Drain and are then stopped.
// Cancelling ctx stops everything early; the results so far are returned
// with the error.
func Measure(ctx context.Context, flows []Flow, opt Options) ([]Result, error) {
	opt = opt.withDefaults()
	recvCtx, stopReceivers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReceivers()

	type outcome struct {
		sent    SenderStats
		capture Capture
		sendErr error
		recvErr error
	}
	outcomes := make([]outcome, len(flows))
	var receivers, senders sync.WaitGroup
	for i, f := range flows {
		receivers.Go(func() { outcomes[i].capture, outcomes[i].recvErr = f.Receiver.Run(recvCtx) })
	}
	for i, f := range flows {
		senders.Go(func() { outcomes[i].sent, outcomes[i].sendErr = f.Sender.Run(ctx) })
	}
	senders.Wait()
	select {
	case <-time.After(opt.Drain):
	case <-ctx.Done():
	}
	stopReceivers()
	receivers.Wait()

	results := make([]Result, len(flows))
	var errs []error
	for i, f := range flows {
		o := outcomes[i]
		if o.sendErr != nil {
			errs = append(errs, fmt.Errorf("flow %q: %w", f.Name, o.sendErr))
		}
		if o.recvErr != nil {
			errs = append(errs, fmt.Errorf("flow %q: %w", f.Name, o.recvErr))
		}
		results[i] = Analyze(f.Name, o.sent, o.capture, opt)
	}
	return results, errors.Join(errs...)
}
