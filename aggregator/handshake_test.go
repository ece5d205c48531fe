package aggregator

import (
	"testing"

	"github.com/polylink/polylink/wire"
)

var nicB0 = addr("198.18.0.3")

func TestAnswersOnAPathNotYetProven(t *testing.T) {
	d := newDriven(t, Config{Peers: raw(nicB0)})
	c := d.prove(t, vipB, 20, nicB0) // probe ─▶ reply-probe ─▶ reply: proven

	// Proven, epoch known: a probe gets a plain reply.
	d.in(nicB0, probeFrom(t, vipB, 20, 2))
	if h, _, _ := d.link.lastPacket(t); h.Kind != wire.KindProbeReply {
		t.Fatalf("a probe on a proven path got %v, want a plain reply", h.Kind)
	}

	// A second NIC of the now established host: its first probe gets a
	// reply-probe; a second one while that challenge is in flight gets
	// nothing (a plain reply would let it prove the path before we can).
	nicB1 := addr("198.18.0.4")
	d.in(nicB1, probeFrom(t, vipB, 21, 1))
	if h, _, dst := d.link.lastPacket(t); h.Kind != wire.KindReplyProbe || dst != nicB1 {
		t.Fatalf("first probe from a new NIC got %v to %v, want a reply-probe to it", h.Kind, dst)
	}
	sent := d.link.sent.Load()
	d.in(nicB1, probeFrom(t, vipB, 21, 2))
	if d.link.sent.Load() != sent || d.e.Status().Counters.ProbesHeld != 1 {
		t.Fatalf("a probe during our challenge: %d packets sent, %d held; want none sent, 1 held",
			d.link.sent.Load()-sent, d.e.Status().Counters.ProbesHeld)
	}
	// Data from that unproven NIC is dropped, and earns no second
	// challenge within the gap.
	d.in(nicB1, dataFrom(t, vipB, 21, 7))
	if st := d.e.Status().Counters; st.UnprovenDropped != 1 || d.link.sent.Load() != sent {
		t.Fatalf("data from an unproven NIC: %d dropped, %d packets sent; want 1 and none", st.UnprovenDropped, d.link.sent.Load()-sent)
	}
	// Data from the proven NIC is delivered once.
	d.in(nicB0, dataFrom(t, vipB, 20, 8))
	d.in(nicB0, dataFrom(t, vipB, 20, 8))
	if st := d.e.Status().Counters; st.Delivered != 1 || st.DuplicatesDropped != 1 {
		t.Fatalf("delivered %d, duplicates %d; want 1 and 1", st.Delivered, st.DuplicatesDropped)
	}
	// A reply to nothing we sent is counted and proves nothing.
	d.in(nicB0, forged(t, wire.Header{Kind: wire.KindProbeReply, Host: vipB, SrcIndex: 20, DstIndex: 10},
		wire.Probe{SendTime: 12345, Seq: 999, Epoch: drivenEpoch}))
	if n := d.e.Status().Counters.UnmatchedReplies; n != 1 {
		t.Fatalf("unmatched replies %d, want 1", n)
	}
	_ = c
}

func TestNewEpochOnAProvenPathIsChallenged(t *testing.T) {
	d := newDriven(t, Config{Peers: raw(nicB0)})
	c := d.prove(t, vipB, 20, nicB0)
	c.challengedAt.Store(0) // the challenge gap (a quarter hour here) has passed
	p := forged(t, wire.Header{Kind: wire.KindProbe, Host: vipB, SrcIndex: 20, DstIndex: 10},
		wire.Probe{SendTime: 9, Seq: 3, Epoch: drivenEpoch + 1})
	sent := d.link.sent.Load()
	d.in(nicB0, p)
	h, body, _ := d.link.lastPacket(t)
	if d.link.sent.Load() != sent+1 {
		t.Fatalf("a probe with a new epoch earned %d packets, want 1", d.link.sent.Load()-sent)
	}
	var r, q wire.Probe
	if h.Kind != wire.KindReplyProbe || wire.DecodeReplyProbe(body, &r, &q) != nil {
		t.Fatalf("a probe with a new epoch got %v, want a reply-probe", h.Kind)
	}
	if n := d.e.Status().Counters.PeerRestarts; n != 0 {
		t.Fatalf("an unanswered epoch counted %d restarts", n)
	}
	// The genuine host answers with its new epoch: a restart.
	d.in(nicB0, forged(t, wire.Header{Kind: wire.KindProbeReply, Host: vipB, SrcIndex: 20, DstIndex: 10},
		wire.Probe{SendTime: q.SendTime, Seq: q.Seq, Epoch: drivenEpoch + 1}))
	if n := d.e.Status().Counters.PeerRestarts; n != 1 {
		t.Fatalf("restarts %d after the answer with the new epoch, want 1: %+v", n, d.e.Status().Counters)
	}
}
