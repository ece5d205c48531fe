package aggregator

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/polylink/polylink/classify"
	"github.com/polylink/polylink/dedup"
)

// Engine is the bundle engine of one node. Create it with New; add links as
// they appear; Send packets to hosts; Close it when done.
type Engine struct {
	cfg   Config
	dead  int64 // the dead interval in ns
	log   *zap.Logger
	logOn bool        // log writes something: events are queued for logLoop
	logq  chan event  // see note
	keyed *keyedState // nil: keyless (wire v1)
	epoch uint32
	start time.Time
	dedup *dedup.Table
	peers map[netip.AddrPort]bool // guarded by mu: configured underlay endpoints (port 0: raw IP-in-IP); see SetPeers

	mu    sync.RWMutex
	links map[linkKey]*localLink // guarded by mu
	hosts map[netip.Addr]*host   // guarded by mu
	stats counters

	closed  bool                       // guarded by mu: set by Close; later links are refused
	gateway atomic.Pointer[netip.Addr] // see Gateway
	gwMu    sync.Mutex                 // serialises updateGateway

	// Discovery of configured peers runs at the probe interval for
	// fastProbes rounds after start, a new link or a lost host, then once a
	// second (timers.go).
	discoverRounds atomic.Uint32
	discoveredAt   atomic.Int64

	retick chan time.Duration // a new probe interval for timerLoop (reconfigure.go)

	flows  *classify.FlowTable // the flows Send has seen, for status
	second chan delayed        // second copies waiting for their time

	wg        sync.WaitGroup
	done      chan struct{}
	closeOnce sync.Once
}

// localLink is a link the engine sends and receives on. Its Link may be
// swapped (the NIC changed address) without losing its connections.
type localLink struct {
	index int
	kind  Kind
	name  string // guarded by Engine.mu
	cur   atomic.Pointer[linkHolder]
	// queue is never closed, so a sender that raced with removal cannot
	// panic; removal closes done instead, which ends the writer, and sets
	// removed, which makes enqueue drop.
	queue   chan txItem
	done    chan struct{}
	removed atomic.Bool
	metered atomic.Bool // the NIC's name matches Policy.Metered
	// txBytes counts bundle bytes written on the link; budgetWarned is the
	// last Policy.MeteredBudget warning given (policy_timer.go).
	txBytes      atomic.Uint64
	budgetWarned atomic.Uint32
}

// retire stops the link's writer; packets still queued are dropped.
// Called once, with Engine.mu write-locked.
func (ll *localLink) retire() {
	ll.removed.Store(true)
	close(ll.done)
}

type linkHolder struct{ Link }

func (ll *localLink) current() Link { return ll.cur.Load().Link }

// New starts an engine: its timer goroutine runs until Close.
func New(cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:   cfg,
		dead:  int64(cfg.DeadInterval),
		log:   cfg.Logger,
		epoch: randomUint32(),
		start: time.Now(),
		dedup: dedup.NewTable(cfg.MaxHosts),
		peers: map[netip.AddrPort]bool{},
		links: map[linkKey]*localLink{},
		hosts: map[netip.Addr]*host{},
		done:  make(chan struct{}),
		logOn: logEnabled(cfg.Logger),
		logq:  make(chan event, logQueueLen),
		flows: classify.NewFlowTable(cfg.Policy.FlowTableSize),
		// second copies wait in order of due time
		second: make(chan delayed, secondCopyQueue),
	}
	e.retick = make(chan time.Duration, 1)
	for _, p := range cfg.Peers {
		e.peers[p] = true
	}
	if cfg.Keyed != nil {
		e.keyed = newKeyedState(cfg.Keyed, cfg.ProbeInterval)
	}
	if e.logOn {
		go e.logLoop()
	}
	e.wg.Add(2)
	go e.timerLoop()
	go e.secondCopyLoop()
	return e, nil
}

// now is the engine's monotonic clock in ns; it never returns 0, which
// means "never" in timestamps.
func (e *Engine) now() int64 { return int64(time.Since(e.start)) + 1 }

func randomUint32() uint32 {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}

// AddLink starts using l: a reader and a writer goroutine, connections to
// every known remote NIC, and probes on them at once, so a new NIC carries
// traffic one round trip after it appears. If a link with l's index exists,
// its Link is replaced (the NIC changed address) and its connections kept;
// the old Link is closed.
func (e *Engine) AddLink(l Link) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		closeLink(l)
		return
	}
	key := linkKey{l.Index(), KindOf(l.Local())}
	ll := e.links[key]
	var old Link
	if ll != nil {
		old = ll.current()
		ll.cur.Store(&linkHolder{l})
		ll.name = l.Name()
	} else {
		ll = &localLink{index: key.index, kind: key.kind, name: l.Name(), queue: make(chan txItem, e.cfg.QueueLen), done: make(chan struct{})}
		ll.cur.Store(&linkHolder{l})
		e.links[key] = ll
		for _, h := range e.hosts {
			for _, r := range h.remotes {
				if r.kind() == ll.kind {
					h.conns = append(h.conns, &conn{host: h, link: ll, remote: r})
				}
			}
		}
		e.wg.Add(1)
		go e.writeLoop(ll)
	}
	ll.metered.Store(e.cfg.Policy.meteredName(l.Name()))
	e.wg.Add(1)
	go e.readLoop(ll, l)
	e.mu.Unlock()
	if old != nil {
		closeLink(old)
	}
	e.note(event{kind: evLinkAdded, link: l.Name(), index: l.Index(), remote: l.Local()})
	e.probeNow(ll)
}

// RemoveLink stops using every link of the NIC with this index.
func (e *Engine) RemoveLink(index int) {
	for _, k := range []Kind{KindIPIP, KindUDP4, KindUDP6} {
		e.RemoveLinkOf(index, k)
	}
}

// RemoveLinkOf stops using the link of this NIC and kind, drops its
// connections and closes its Link.
func (e *Engine) RemoveLinkOf(index int, kind Kind) {
	e.mu.Lock()
	key := linkKey{index, kind}
	ll := e.links[key]
	if ll == nil {
		e.mu.Unlock()
		return
	}
	delete(e.links, key)
	for _, h := range e.hosts {
		h.dropConns(func(c *conn) bool { return c.link == ll })
	}
	ll.retire()
	e.mu.Unlock()
	closeLink(ll.current())
	e.note(event{kind: evLinkRemoved, link: ll.name, index: index})
}

func closeLink(l Link) {
	if c, ok := l.(io.Closer); ok {
		_ = c.Close()
	}
}

// ErrNoHost is returned by Send for a host the engine has no bundle to.
var ErrNoHost = errors.New("no bundle to that host")

// HasHost reports whether the engine has a bundle to the host vip.
func (e *Engine) HasHost(vip netip.Addr) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.hosts[vip] != nil
}

// Gateway returns the host that hosts route what they don't know to: the
// lowest-addressed host met through a configured peer address, preferring
// ones that answered our probes. Lock-free: the router asks per packet.
func (e *Engine) Gateway() (netip.Addr, bool) {
	if g := e.gateway.Load(); g != nil {
		return *g, true
	}
	return netip.Addr{}, false
}

// updateGateway recomputes Gateway's answer: the lowest-addressed host met
// through a configured peer that has answered our probes (a host made by a
// forged packet from a peer's address never has). Called with e.mu held
// (read or write); gwMu orders concurrent recomputations.
func (e *Engine) updateGateway() {
	e.gwMu.Lock()
	defer e.gwMu.Unlock()
	var best netip.Addr
	for vip, h := range e.hosts {
		if h.gateway && h.established.Load() && (!best.IsValid() || vip.Less(best)) {
			best = vip
		}
	}
	if best.IsValid() {
		e.gateway.Store(&best)
	} else {
		e.gateway.Store(nil)
	}
}

// Close stops the engine: the timer, every writer, and every reader (by
// closing the links). Idempotent.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		close(e.done)
		e.mu.Lock()
		e.closed = true
		links := make([]*localLink, 0, len(e.links))
		for i, ll := range e.links {
			links = append(links, ll)
			ll.retire()
			delete(e.links, i)
		}
		e.mu.Unlock()
		for _, ll := range links {
			closeLink(ll.current())
		}
		e.wg.Wait()
	})
	return nil
}
