package aggregator

import (
	"net/netip"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Operator events never reach the logger from a goroutine that holds
// Engine.mu, nor from a packet path at all:
//
//	handle / timer / AddLink ─▶ note(event) ─▶ logq (bounded; full: drop, count)
//	                                             ─▶ logLoop ─▶ zap
//
// note is a non-blocking channel send of a small value, so it costs no
// allocation and may run under the lock; a stalled log writer (a paused
// terminal, a wedged journald) then stalls only logLoop, never a packet.

// eventKind names an operator event.
type eventKind uint8

const (
	evPathUp eventKind = iota + 1
	evPathDown
	evHostJoined
	evHostLeft
	evPeerRestarted
	evRemoteForgotten
	evIDLimit
	evLinkAdded
	evLinkRemoved
	evBudget
)

// event is one operator event: the fields its kind uses are set.
type event struct {
	kind    eventKind
	link    string
	index   int
	host    netip.Addr
	remote  netip.AddrPort
	rindex  uint32
	gateway bool
	why     string
	d       time.Duration
	rate    float64
	sent    uint64 // evBudget: bytes sent, and the budget
	budget  uint64
}

// logQueueLen bounds the events waiting for the log writer.
const logQueueLen = 256

// note hands ev to the log goroutine without blocking: when the writer is
// so far behind that the queue is full, the event is dropped and counted.
func (e *Engine) note(ev event) {
	if !e.logOn {
		return
	}
	select {
	case e.logq <- ev:
	default:
		e.stats.logDropped.Add(1)
	}
}

// logLoop writes events until the engine closes. It is not counted in the
// engine's WaitGroup: a log writer blocked forever cannot be interrupted,
// and Close must not hang on it.
func (e *Engine) logLoop() {
	for {
		select {
		case <-e.done:
			return
		case ev := <-e.logq:
			ev.write(e.log)
		}
	}
}

// write logs ev through log.
func (ev *event) write(log *zap.Logger) {
	switch ev.kind {
	case evPathUp:
		log.Info("path up", zap.String("link", ev.link), zap.String("remote", endpointString(ev.remote)),
			zap.Stringer("host", ev.host))
	case evPathDown:
		log.Info("path down", zap.String("link", ev.link), zap.String("remote", endpointString(ev.remote)),
			zap.Stringer("host", ev.host), zap.Duration("unanswered", ev.d))
	case evHostJoined:
		log.Info("host joined", zap.Stringer("host", ev.host), zap.String("via", endpointString(ev.remote)),
			zap.Bool("gateway", ev.gateway))
	case evHostLeft:
		log.Info("host left", zap.Stringer("host", ev.host), zap.String("why", ev.why))
	case evPeerRestarted:
		log.Info("peer restarted", zap.Stringer("host", ev.host))
	case evRemoteForgotten:
		log.Info("remote NIC forgotten", zap.Stringer("host", ev.host), zap.Uint32("index", ev.rindex),
			zap.String("addr", endpointString(ev.remote)))
	case evIDLimit:
		log.Warn("bundle near the 13-bit ID window: copies skewed by more than max_skew_ms will be taken for new packets",
			zap.Stringer("host", ev.host), zap.Float64("packets_per_s", ev.rate),
			zap.Int("window_per_s", idLimit), zap.Float64("max_skew_ms", idSkewMs(ev.rate)))
	case evLinkAdded:
		log.Debug("link added", zap.String("link", ev.link), zap.Int("index", ev.index),
			zap.String("addr", endpointString(ev.remote)))
	case evLinkRemoved:
		log.Debug("link removed", zap.String("link", ev.link), zap.Int("index", ev.index))
	case evBudget:
		log.Warn("metered NIC "+ev.why+" its byte budget", zap.String("link", ev.link),
			zap.Uint64("sent_bytes", ev.sent), zap.Uint64("budget_bytes", ev.budget))
	}
}

// logEnabled reports whether log writes anything at the levels events use:
// with a no-op logger (the default) events are not even queued.
func logEnabled(log *zap.Logger) bool { return log.Core().Enabled(zapcore.WarnLevel) }
