package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// FuzzControlRequest sends the control socket arbitrary requests: the
// daemon answers each within its timeouts with at most one line of JSON —
// the status for a "status" line, an error otherwise — or closes the
// connection when the client ends without a line or sends too much.
func FuzzControlRequest(f *testing.F) {
	path := filepath.Join(f.TempDir(), "c.sock")
	s, err := listenControlWith(path, func() any { return map[string]string{"ok": "yes"} }, time.Second)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Add([]byte("status\n"))
	f.Add([]byte("  status \r\n trailing"))
	f.Add([]byte("stat"))
	f.Add(bytes.Repeat([]byte("x"), maxControlRequest+1))
	f.Fuzz(func(t *testing.T, req []byte) {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(req); err != nil && len(req) <= maxControlRequest {
			t.Fatalf("write %d bytes: %v", len(req), err)
		}
		_ = c.(*net.UnixConn).CloseWrite()
		resp, err := io.ReadAll(c)
		if err != nil && len(req) <= maxControlRequest {
			// Only an over-long request is cut off with bytes unread, which
			// the kernel may report to the client as a reset.
			t.Fatalf("reading the answer: %v", err)
		}
		if len(resp) == 0 {
			if len(req) <= maxControlRequest && bytes.IndexByte(req, '\n') >= 0 {
				t.Fatalf("no answer to a request with a line: %q", req)
			}
			return
		}
		if bytes.Count(resp, []byte("\n")) != 1 || resp[len(resp)-1] != '\n' {
			t.Fatalf("answer is not one line: %q", resp)
		}
		var doc map[string]string
		if err := json.Unmarshal(resp, &doc); err != nil {
			t.Fatalf("answer is not JSON: %q: %v", resp, err)
		}
		line, _, _ := bytes.Cut(req, []byte("\n"))
		if isStatus := string(bytes.TrimSpace(line)) == "status"; isStatus != (doc["ok"] == "yes") {
			t.Fatalf("request %q got %q", req, resp)
		}
	})
}
