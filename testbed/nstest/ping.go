package nstest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/polylink/polylink/testbed"
)

// PingRTT pings addr from ns count times, 20 ms apart, and returns the
// minimum and average RTT in ms. A delay a link adds shows in the minimum:
// a loaded machine only ever adds to an RTT, so tests bound the minimum
// and log the average.
func PingRTT(t testing.TB, ns *testbed.Namespace, addr string, count int) (minMS, avgMS float64) {
	t.Helper()
	out, err := ns.Run("ping", "-c", strconv.Itoa(count), "-i", "0.02", "-W", "2", addr)
	if err != nil {
		t.Fatalf("ping %s: %v\n%s", addr, err, out)
	}
	i := strings.Index(out, "min/avg/max")
	if i < 0 {
		t.Fatalf("no RTT summary in ping output:\n%s", out)
	}
	if _, err := fmt.Sscanf(out[i+strings.Index(out[i:], "=")+1:], " %f/%f", &minMS, &avgMS); err != nil {
		t.Fatalf("parse ping summary: %v\n%s", err, out)
	}
	return minMS, avgMS
}
