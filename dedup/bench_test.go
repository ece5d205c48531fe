package dedup

import (
	"testing"
	"time"
)

// Each benchmark op is one check. Packets arrive twice (two paths) at
// 10,000 packet/s, so half the checks accept and half find a duplicate.
const benchInterval = int64(time.Second) / 10_000 / 2

func BenchmarkWindowCheck(b *testing.B) {
	var w Window
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Check(uint16(i/2), int64(i)*benchInterval)
	}
}

func BenchmarkTableCheck(b *testing.B) {
	tbl := NewTable(256)
	tbl.Check(hostA, 0, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tbl.Check(hostA, uint16(i/2+1), int64(i)*benchInterval)
	}
}

// BenchmarkTableCheckManyHosts spreads checks over 256 known hosts: each
// check touches a different 65 KiB window, so caches miss.
func BenchmarkTableCheckManyHosts(b *testing.B) {
	const hosts = 256
	tbl := NewTable(hosts)
	for n := range hosts {
		tbl.Check(hostN(n), 0, 0)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n := i % (2 * hosts)
		tbl.Check(hostN(n%hosts), uint16(i/(2*hosts)+1), int64(i)*benchInterval)
	}
}

// BenchmarkTableCheckForgedFlood makes every check come from a new host, so
// every check evicts one and recycles its window.
func BenchmarkTableCheckForgedFlood(b *testing.B) {
	tbl := NewTable(64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tbl.Check(hostN(i&0xFFFFFF), 1, int64(i))
	}
}
