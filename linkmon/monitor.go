package linkmon

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// eventBuffer is how many events may wait for the consumer before the
// monitor blocks on it; netlink keeps queueing (and coalescing) meanwhile.
const eventBuffer = 64

// Retry delays after a failed dump, socket open or resubscription.
const (
	minRetryDelay = 100 * time.Millisecond
	maxRetryDelay = 5 * time.Second
)

// Config configures a Monitor. The zero value watches the current namespace
// and excludes nothing.
type Config struct {
	// Exclude lists names or path.Match globs ("docker*") of NICs never
	// used. polylink's own TUN device belongs here.
	Exclude []string
	// Namespace is the network namespace to watch and open sockets in;
	// 0 or netns.None() means the calling thread's namespace. The monitor
	// keeps its own duplicate: the caller may close theirs after New.
	Namespace netns.NsHandle
	// Logger receives one line per NIC added, changed or removed (Info) and
	// per resync or failure (Warn). Nil means no logging.
	Logger *zap.Logger
	// UDPPort, when not 0, makes the monitor open a UDP socket on this port
	// per usable NIC and address family beside the raw one (Event.UDP4,
	// Event.UDP6), and count NICs with only IPv6 addresses as usable.
	UDPPort uint16
}

// testHooks let tests in this package reach paths that the kernel takes only
// under pressure. The zero value disables them all.
type testHooks struct {
	// breakSubscription, when it receives, closes the subscription socket as
	// a receive error would.
	breakSubscription <-chan struct{}
	// beforeResubscribe runs after the broken subscription is closed and
	// before the new one is opened: changes it makes reach no subscription.
	beforeResubscribe func()
	// subscriptionBuffer overrides subscriptionBuffer.
	subscriptionBuffer int
}

// Monitor keeps the set of usable NICs of one network namespace, one open
// Socket per NIC, and reports every change as an Event. One goroutine owns
// all of it; NICs reads a published copy.
type Monitor struct {
	log     *zap.Logger
	exclude atomic.Pointer[[]string] // replaced whole by SetExclude
	udpPort uint16
	ns      netns.NsHandle // owned; closed when run returns
	hooks   testHooks

	events    chan Event
	trigger   chan struct{} // one slot: a pending re-read, so bursts coalesce
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{} // closed when run has released everything
	closeErr  error         // set before done is closed

	// Owned by the run goroutine (by New before it starts).
	handle     *netlink.Handle // nil after a failed dump: reopened on next use
	sub        *subscription
	current    map[int]entry
	retry      *time.Timer
	retryArmed bool
	retryDelay time.Duration

	mu   sync.Mutex
	nics []NIC // guarded by mu; sorted by Index
}

// entry is a usable NIC and its sockets.
type entry struct {
	nic   NIC
	socks nicSockets
}

// New starts a monitor: it subscribes to netlink, takes the initial dump and
// opens a socket per usable NIC before returning. The initial NICs are the
// first events on Events, as Added.
func New(cfg Config) (*Monitor, error) {
	return newMonitor(cfg, testHooks{})
}

func newMonitor(cfg Config, hooks testHooks) (_ *Monitor, err error) {
	if err := validatePatterns(cfg.Exclude); err != nil {
		return nil, err
	}
	ns, err := ownNamespace(cfg.Namespace)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	m := &Monitor{
		log:        log,
		udpPort:    cfg.UDPPort,
		ns:         ns,
		hooks:      hooks,
		events:     make(chan Event, eventBuffer),
		trigger:    make(chan struct{}, 1),
		closing:    make(chan struct{}),
		done:       make(chan struct{}),
		current:    make(map[int]entry),
		retry:      time.NewTimer(time.Hour),
		retryDelay: minRetryDelay,
	}
	m.retry.Stop()
	m.exclude.Store(new(slices.Clone(cfg.Exclude)))
	defer func() {
		if err != nil {
			m.release()
		}
	}()
	// Subscribe before the first dump: a change racing with the dump then
	// still triggers a re-read.
	if m.sub, err = subscribe(m.ns, m.hooks.subscriptionBuffer, m.trigger); err != nil {
		return nil, err
	}
	if err := m.openHandle(); err != nil {
		return nil, err
	}
	d, err := readDump(m.handle)
	if err != nil {
		return nil, err
	}
	initial, err := m.applyInitial(usableNICs(d, *m.exclude.Load(), m.udpPort != 0))
	if err != nil {
		return nil, err
	}
	go m.run(initial)
	return m, nil
}

// Events returns the channel of changes. The consumer must keep draining
// it: the monitor waits for room before it applies further changes. It is
// closed after Close.
func (m *Monitor) Events() <-chan Event { return m.events }

// NICs returns the current usable NICs, sorted by index. The slice and its
// NICs are the caller's.
func (m *Monitor) NICs() []NIC {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]NIC, len(m.nics))
	for i, n := range m.nics {
		out[i] = n.clone()
	}
	return out
}

// Close stops the monitor, closes every socket it opened and closes Events.
// It is idempotent and waits until everything is released.
func (m *Monitor) Close() error {
	m.closeOnce.Do(func() { close(m.closing) })
	<-m.done
	return m.closeErr
}

// run is the monitor's goroutine: deliver, wait for a reason to re-read,
// re-read and apply, deliver.
func (m *Monitor) run(pending []Event) {
	defer close(m.done)
	defer func() { m.closeErr = m.release() }()
	for {
		if !m.deliver(pending) {
			return
		}
		select {
		case <-m.closing:
			return
		case <-m.trigger:
		case <-m.retry.C:
			m.retryArmed = false
		case err := <-m.sub.failed:
			if !m.resubscribe(err) {
				return
			}
		case <-m.hooks.breakSubscription:
			m.sub.sock.Close() // the reader reports the failure next round
			pending = nil
			continue
		}
		pending = m.resync()
	}
}

// deliver sends events to the consumer; false means Close interrupted it.
func (m *Monitor) deliver(events []Event) bool {
	for _, ev := range events {
		select {
		case m.events <- ev:
		case <-m.closing:
			return false
		}
	}
	return true
}

// resync re-reads the namespace and applies the difference.
func (m *Monitor) resync() []Event {
	// Whatever is queued is covered by the read below.
	select {
	case <-m.trigger:
	default:
	}
	if m.handle == nil {
		if err := m.openHandle(); err != nil {
			m.log.Warn("open netlink handle failed; retrying", zap.Error(err), zap.Duration("in", m.retryDelay))
			m.armRetry()
			return nil
		}
	}
	d, err := readDump(m.handle)
	if err != nil {
		m.log.Warn("read links and addresses failed; retrying", zap.Error(err), zap.Duration("in", m.retryDelay))
		m.handle.Close()
		m.handle = nil
		m.armRetry()
		return nil
	}
	events, err := m.apply(usableNICs(d, *m.exclude.Load(), m.udpPort != 0))
	if err == nil {
		m.retryDelay = minRetryDelay
	}
	return events
}

// resubscribe replaces a broken subscription and reports false if Close
// came first. The caller resyncs next: messages lost with the old
// subscription are recovered by that fresh dump.
func (m *Monitor) resubscribe(cause error) bool {
	m.log.Warn("netlink subscription broke; resubscribing and resyncing from a fresh dump", zap.Error(cause))
	m.sub.close()
	if m.hooks.beforeResubscribe != nil {
		m.hooks.beforeResubscribe()
	}
	for delay := minRetryDelay; ; delay = min(2*delay, maxRetryDelay) {
		sub, err := subscribe(m.ns, m.hooks.subscriptionBuffer, m.trigger)
		if err == nil {
			m.sub = sub
			return true
		}
		m.log.Warn("resubscribe to netlink failed; retrying", zap.Error(err), zap.Duration("in", delay))
		select {
		case <-m.closing:
			return false // release closes m.sub again, harmlessly
		case <-time.After(delay):
		}
	}
}

// openHandle opens the netlink handle dumps go through, inside the
// monitored namespace.
func (m *Monitor) openHandle() error {
	return do(m.ns, func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("open netlink handle: %w", err)
		}
		m.handle = h
		return nil
	})
}

// armRetry schedules a resync after the current backoff, doubling it.
func (m *Monitor) armRetry() {
	if m.retryArmed {
		return
	}
	m.retryArmed = true
	m.retry.Reset(m.retryDelay)
	m.retryDelay = min(2*m.retryDelay, maxRetryDelay)
}

// publish copies the current set for NICs.
func (m *Monitor) publish() {
	nics := make([]NIC, 0, len(m.current))
	for _, idx := range slices.Sorted(maps.Keys(m.current)) {
		nics = append(nics, m.current[idx].nic)
	}
	m.mu.Lock()
	m.nics = nics
	m.mu.Unlock()
}

// release closes everything the monitor holds: subscription, netlink
// handle, sockets, namespace handle, and finally the events channel.
func (m *Monitor) release() error {
	var errs []error
	if m.sub != nil {
		m.sub.close()
	}
	if m.handle != nil {
		m.handle.Close()
		m.handle = nil
	}
	for idx, e := range m.current {
		if err := e.socks.closeAll(); err != nil {
			errs = append(errs, err)
		}
		delete(m.current, idx)
	}
	m.retry.Stop()
	m.publish()
	if err := m.ns.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close network namespace handle: %w", err))
	}
	close(m.events)
	return errors.Join(errs...)
}

func nicFields(n NIC) []zap.Field {
	fs := []zap.Field{zap.String("nic", n.Name), zap.Int("index", n.Index)}
	if n.Addr.IsValid() {
		fs = append(fs, zap.Stringer("addr", n.Prefix))
	}
	if n.Addr6.IsValid() {
		fs = append(fs, zap.Stringer("addr6", n.Addr6))
	}
	return append(fs, zap.Int("mtu", n.MTU))
}
