package classify

import (
	"runtime"
	"testing"
)

func TestFlowTableCounts(t *testing.T) {
	ft := NewFlowTable(16)
	media := Flow{Src: vmA, Dst: vmB, Proto: ProtoUDP, SPort: 5004, DPort: 5004}
	upload := Flow{Src: vmA, Dst: vmB, Proto: ProtoTCP, SPort: 40000, DPort: 5201}
	for i := range 10 {
		ft.Record(media, RealTime, 200, int64(i+1), []int32{2, 3})
		ft.Record(upload, Bulk, 1400, int64(i+1), []int32{2})
	}
	fs := ft.Flows(0, 0)
	if len(fs) != 2 || fs[0].Flow != upload || fs[1].Flow != media {
		t.Fatalf("flows: %+v", fs)
	}
	if fs[0].Class != Bulk || fs[0].Bytes != 14000 || len(fs[0].Paths) != 1 || fs[0].Paths[0] != (PathCount{2, 10, 14000}) {
		t.Errorf("upload: %+v", fs[0])
	}
	if fs[1].Class != RealTime || fs[1].Packets != 10 || len(fs[1].Paths) != 2 || fs[1].Paths[1] != (PathCount{3, 10, 2000}) {
		t.Errorf("media: %+v", fs[1])
	}
	if got := ft.Flows(11, 0); len(got) != 0 {
		t.Errorf("flows since 11: %d, want none", len(got))
	}
	if got := ft.Flows(0, 1); len(got) != 1 {
		t.Errorf("at most 1: got %d", len(got))
	}
}

func TestFlowTableMorePathsThanSlots(t *testing.T) {
	ft := NewFlowTable(4)
	f := Flow{Src: vmA, Dst: vmB, Proto: ProtoUDP}
	for p := int32(1); p <= MaxFlowPaths+2; p++ {
		ft.Record(f, RealTime, 100, int64(p), []int32{p})
	}
	fs := ft.Flows(0, 0)
	if len(fs) != 1 || len(fs[0].Paths) != MaxFlowPaths || fs[0].Packets != MaxFlowPaths+2 {
		t.Fatalf("%+v", fs)
	}
}

// A flood of distinct flows (a port scan through the tunnel, or spoofed
// sources) recycles entries: the table's memory does not grow, and a
// live flow recorded afterwards is there.
func TestFlowTableBoundedUnderFlood(t *testing.T) {
	ft := NewFlowTable(1024)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	paths := []int32{1}
	for i := range 1_000_000 {
		f := Flow{Src: [4]byte{198, 19, byte(i >> 16), byte(i >> 8)}, Dst: vmB, Proto: ProtoUDP, SPort: uint16(i), DPort: 9}
		ft.Record(f, RealTime, 60, int64(i+1), paths)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Errorf("heap grew %d bytes over a million flows", grew)
	}
	if n := len(ft.Flows(0, 0)); n != ft.Cap() {
		t.Errorf("table holds %d flows, want its capacity %d", n, ft.Cap())
	}
	if ft.Evicted() != 1_000_000-uint64(ft.Cap()) {
		t.Errorf("evicted %d, want %d", ft.Evicted(), 1_000_000-ft.Cap())
	}
	live := Flow{Src: vmA, Dst: vmB, Proto: ProtoUDP, SPort: 5004, DPort: 5004}
	ft.Record(live, RealTime, 200, 2_000_000, paths)
	if fs := ft.Flows(2_000_000, 0); len(fs) != 1 || fs[0].Flow != live {
		t.Errorf("live flow after the flood: %+v", fs)
	}
}
