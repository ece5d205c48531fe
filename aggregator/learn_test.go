package aggregator

import (
	"maps"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polylink/polylink/wire"
)

// entry is an evictable for pickVictim's table test.
type entry struct {
	name string
	ok   bool
	at   int64
}

func (e *entry) answered() bool { return e.ok }
func (e *entry) heardAt() int64 { return e.at }

func TestPickVictim(t *testing.T) {
	const now, dead = 1000, 100
	cases := []struct {
		entries []*entry
		want    string // "" = none may go
	}{
		0: {nil, ""},
		// The oldest that never answered goes first, however recent the
		// proven ones are.
		1: {[]*entry{{"p", true, 999}, {"u1", false, 990}, {"u2", false, 950}}, "u2"},
		2: {[]*entry{{"p", true, 10}, {"u", false, 999}}, "u"},
		// All answered: the longest silent, if past the dead interval.
		3: {[]*entry{{"p1", true, 950}, {"p2", true, 899}}, "p2"},
		4: {[]*entry{{"p1", true, 950}, {"p2", true, now - dead}}, "p2"},
		5: {[]*entry{{"p1", true, 950}, {"p2", true, now - dead + 1}}, ""},
	}
	for i, c := range cases {
		m := map[string]*entry{}
		for _, e := range c.entries {
			m[e.name] = e
		}
		got := pickVictim(maps.Values(m), now, dead)
		if name := ""; got != nil {
			name = got.name
			if name != c.want {
				t.Errorf("case %d: victim %q, want %q", i, name, c.want)
			}
		} else if c.want != "" {
			t.Errorf("case %d: no victim, want %q", i, c.want)
		}
	}
}

func TestRemoteNICTableEvictsUnprovenFirst(t *testing.T) {
	d := newDriven(t, Config{Peers: raw(nicB0), MaxRemotesPerHost: 2, DeadInterval: time.Second})
	d.prove(t, vipB, 20, nicB0)
	nic := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 0, 10 + i}) }
	remotes := func() map[string]bool {
		got := map[string]bool{}
		for _, r := range d.e.Status().Hosts[0].Remotes {
			got[r.Addr] = true
		}
		return got
	}
	d.in(nic(1), probeFrom(t, vipB, 21, 1)) // table full: B's proven NIC and this one
	d.in(nic(2), probeFrom(t, vipB, 22, 1)) // evicts nic(1), which never answered
	if got := remotes(); len(got) != 2 || !got[nicB0.String()] || !got[nic(2).String()] {
		t.Fatalf("remotes %v, want the proven NIC and the newest", got)
	}
	d.prove(t, vipB, 22, nic(2))
	// Both proven and recently heard: a newcomer is refused.
	before := d.e.Status().Counters.UnknownHost
	d.in(nic(3), probeFrom(t, vipB, 23, 1))
	if got := remotes(); len(got) != 2 || got[nic(3).String()] || d.e.Status().Counters.UnknownHost != before+1 {
		t.Fatalf("remotes %v, unknown %d: want the newcomer refused and counted", got, d.e.Status().Counters.UnknownHost-before)
	}
	// Once one is silent past the dead interval, it makes room.
	d.conn(vipB, 20, nicB0).remote.lastRx.Store(-int64(2 * time.Second)) // the engine's clock starts at 0
	d.in(nic(3), probeFrom(t, vipB, 23, 1))
	if got := remotes(); len(got) != 2 || got[nicB0.String()] || !got[nic(3).String()] {
		t.Fatalf("remotes %v, want the silent NIC replaced by the newcomer", got)
	}
}

func TestExpiry(t *testing.T) {
	const dead, timeout = time.Second, 10 * time.Second
	d := newDriven(t, Config{Router: true, DeadInterval: dead, HostTimeout: timeout})
	stranger, nicB1 := addr("198.18.0.66"), addr("198.18.0.4")
	d.in(stranger, probeFrom(t, addr("198.19.0.66"), 5, 1)) // a host that never answers
	d.prove(t, vipB, 20, nicB0)
	d.in(nicB1, probeFrom(t, vipB, 21, 1)) // B's second NIC, not proven
	d.prove(t, vipB, 22, addr("198.18.0.5"))
	expire := func(after time.Duration) {
		d.e.mu.Lock()
		d.e.expireLocked(d.e.now() + int64(after))
		d.e.mu.Unlock()
	}
	hosts := func() (vips []string, nics int) {
		for _, h := range d.e.Status().Hosts {
			vips = append(vips, h.VIP)
			if h.VIP == vipB.String() {
				nics = len(h.Remotes)
			}
		}
		return vips, nics
	}
	expire(dead / 2)
	if vips, nics := hosts(); len(vips) != 2 || nics != 3 {
		t.Fatalf("within the dead interval: hosts %v, B's NICs %d; want 2 hosts, 3 NICs", vips, nics)
	}
	expire(dead + time.Millisecond)
	if vips, nics := hosts(); len(vips) != 1 || vips[0] != vipB.String() || nics != 2 {
		t.Fatalf("past the dead interval: hosts %v, B's NICs %d; want only B, with its 2 proven NICs", vips, nics)
	}
	// Keep one proven NIC heard (a packet from it refreshes its host too),
	// let the other fall silent.
	c := d.conn(vipB, 22, addr("198.18.0.5"))
	c.remote.lastRx.Store(d.e.now() + int64(timeout))
	c.host.lastRx.Store(d.e.now() + int64(timeout))
	expire(timeout + time.Millisecond)
	if vips, nics := hosts(); len(vips) != 1 || nics != 1 {
		t.Fatalf("past the host timeout with one NIC heard: hosts %v, B's NICs %d; want B with 1 NIC", vips, nics)
	}
	expire(3 * timeout)
	if vips, _ := hosts(); len(vips) != 0 {
		t.Fatalf("past the host timeout: hosts %v, want none", vips)
	}
	// Sending to a forgotten host is refused and counted.
	if err := d.e.Send(vipB, ipv4Packet(1)); err != ErrNoHost || d.e.Status().Counters.NoHost != 1 {
		t.Fatalf("Send to a forgotten host: %v, no_bundle_dropped %d", err, d.e.Status().Counters.NoHost)
	}
}

func TestRateWarning(t *testing.T) {
	d := newDriven(t, Config{Peers: raw(nicB0)})
	d.prove(t, vipB, 20, nicB0)
	h := d.conn(vipB, 20, nicB0).host
	d.e.mu.Lock()
	defer d.e.mu.Unlock()
	now := d.e.now()
	d.e.checkRate(h, now)
	h.txData.Add(idLimit) // a second at the ID limit
	d.e.checkRate(h, now+int64(time.Second))
	if !h.rate.warned || h.rate.tx < 0.99*idLimit {
		t.Fatalf("at the ID limit: rate %.0f/s, warned %v", h.rate.tx, h.rate.warned)
	}
	d.e.checkRate(h, now+2*int64(time.Second)) // then nothing for a second
	if h.rate.warned || h.rate.tx != 0 {
		t.Fatalf("after a quiet second: rate %.0f/s, warned %v", h.rate.tx, h.rate.warned)
	}
	if ms := idSkewMs(wire.IDSpace * 2); ms != 250 {
		t.Fatalf("max skew at 16,384 packet/s: %v ms, want 250", ms)
	}
}

// A host forgotten while copies of its packets are still on their way
// (here: never answered within the dead interval, as a restarted router
// forgets a sender when a stall delays its proof) keeps its duplicate
// window: the copy on the other path is still a duplicate, not a packet
// to deliver (or, on a router, to forward) a second time.
func TestForgottenHostsLateCopiesAreStillDuplicates(t *testing.T) {
	var delivered atomic.Int32
	d := newDriven(t, Config{Router: true, DeadInterval: time.Second, HostTimeout: 10 * time.Second,
		Deliver: func(netip.Addr, []byte) { delivered.Add(1) }})
	d.in(nicB0, dataFrom(t, vipB, 20, 7)) // before a host's first proof, its data comes from any NIC
	if n := delivered.Load(); n != 1 {
		t.Fatalf("delivered %d, want the first copy", n)
	}
	d.e.mu.Lock()
	d.e.expireLocked(d.e.now() + int64(2*time.Second))
	d.e.mu.Unlock()
	if d.e.HasHost(vipB) {
		t.Fatal("a host that never answered outlived the dead interval")
	}
	d.in(addr("198.18.0.4"), dataFrom(t, vipB, 21, 7)) // the copy on the other path
	if n := delivered.Load(); n != 1 {
		t.Fatalf("delivered %d: the late copy of a packet of a forgotten host went through again", n)
	}
}
