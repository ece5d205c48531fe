package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/polylink/polylink/testbed/linkemu"
)

// BulkTraffic is a TCP upload (iperf3) from VM0 to the stream's receiver
// over polylink, beside the real-time stream: a robot syncing logs while
// it streams video.
type BulkTraffic struct {
	// Duration of the upload from the stream's start (default: the stream's).
	Duration linkemu.Duration `json:"duration,omitempty"`
}

// BulkResult is what the upload achieved, as iperf3 measured it.
type BulkResult struct {
	// Mbps is the average goodput the receiver saw, in Mbit/s.
	Mbps        float64 `json:"mbps"`
	Bytes       uint64  `json:"bytes"`
	Retransmits int     `json:"retransmits"`
	Seconds     float64 `json:"seconds"`
}

// bulkPort is the iperf3 server's port in the receiving namespace.
const bulkPort = 5301

// bulkUpload runs one iperf3 upload from `from` to dst:bulkPort served in
// `to`. It starts the server at once and the client at start (stream
// clock); wait returns the result once the client ends. Both processes
// are ended (by PID) when ctx ends or wait returns.
type bulkUpload struct {
	server, client *exec.Cmd
	out            strings.Builder
	done           chan error
}

func startBulk(ctx context.Context, top lab, to Host, dst string, d time.Duration, wait time.Duration) (*bulkUpload, error) {
	b := &bulkUpload{done: make(chan error, 1)}
	b.server = top.Host(to).Command(ctx, "iperf3", "-s", "-1", "-B", dst, "-p", strconv.Itoa(bulkPort))
	if err := b.server.Start(); err != nil {
		return nil, fmt.Errorf("bulk: start iperf3 server (is iperf3 installed?): %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := top.Host(to).Run("ss", "-Hltn", "sport = :"+strconv.Itoa(bulkPort))
		if strings.Contains(out, "LISTEN") {
			break
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, errors.New("bulk: iperf3 server not listening after 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	b.client = top.Host(VM0).Command(ctx, "iperf3", "-c", dst, "-p", strconv.Itoa(bulkPort), "-t", strconv.Itoa(secs), "-J")
	b.client.Stdout = &b.out
	go func() {
		time.Sleep(wait)
		if err := b.client.Start(); err != nil {
			b.done <- fmt.Errorf("bulk: start iperf3 client: %w", err)
			return
		}
		b.done <- b.client.Wait()
	}()
	return b, nil
}

// result waits for the client and reads iperf3's JSON report.
func (b *bulkUpload) result() (*BulkResult, error) {
	err := <-b.done
	b.stop()
	var rep struct {
		End struct {
			SumSent struct {
				Retransmits int `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				Seconds float64 `json:"seconds"`
				Bytes   uint64  `json:"bytes"`
				Bps     float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal([]byte(b.out.String()), &rep); jerr != nil {
		return nil, fmt.Errorf("bulk: iperf3 report: %v (exit: %v)", jerr, err)
	}
	if rep.Error != "" {
		return nil, fmt.Errorf("bulk: iperf3: %s", rep.Error)
	}
	r := rep.End.SumReceived
	return &BulkResult{Mbps: r.Bps / 1e6, Bytes: r.Bytes, Retransmits: rep.End.SumSent.Retransmits, Seconds: r.Seconds}, nil
}

// close ends both processes if they still run; safe after result.
func (b *bulkUpload) close() {
	if b.client != nil && b.client.Process != nil && b.client.ProcessState == nil {
		_ = b.client.Process.Kill()
	}
	b.stop()
}

// stop ends the server (the client ends by itself, or with ctx).
func (b *bulkUpload) stop() {
	if b.server != nil && b.server.Process != nil {
		_ = b.server.Process.Kill()
		_ = b.server.Wait()
		b.server = nil
	}
}
