package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// startControl serves a fixed status document on a socket in a temporary
// directory, with the request read timeout given.
func startControl(t *testing.T, readTimeout time.Duration) (*controlServer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sock")
	s, err := listenControlWith(path, func() any { return map[string]string{"ok": "yes"} }, readTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestControlRequestWithoutNewlineIsBounded(t *testing.T) {
	_, path := startControl(t, 3*time.Second)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A client that never ends its line. Before the bound, the daemon read
	// all of it into one growing string (3 GB in the field).
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	const most = 64 << 20
	_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	written, werr := 0, error(nil)
	for written < most {
		n, err := c.Write(chunk)
		written += n
		if err != nil {
			werr = err
			break
		}
	}
	if werr == nil {
		t.Fatalf("the daemon took %d MiB of a request with no newline and kept reading", written>>20)
	}
	// What it took is its 4 KiB buffer plus the kernel's socket buffers.
	if written > 4<<20 {
		t.Errorf("the daemon took %d KiB before closing the connection, want about %d bytes plus socket buffers", written>>10, maxControlRequest)
	}
	t.Logf("the connection was closed after %d KiB written (%v)", written>>10, werr)
	if raw, err := queryControl(path); err != nil || !bytes.Contains(raw, []byte(`"ok"`)) {
		t.Fatalf("status after the attack: %s, %v", raw, err)
	}
}

func TestControlLongRequestGetsOneLineError(t *testing.T) {
	_, path := startControl(t, 3*time.Second)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(bytes.Repeat([]byte("y"), maxControlRequest+1)); err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(c)
	if !bytes.Contains(reply, []byte("request longer than 4096 bytes")) || bytes.Count(reply, []byte("\n")) != 1 {
		t.Fatalf("reply to an over-long request: %q", reply)
	}
}

func TestControlSilentClientIsClosed(t *testing.T) {
	const readTimeout = 200 * time.Millisecond
	_, path := startControl(t, readTimeout)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(controlTimeout + 5*time.Second))
	start := time.Now()
	n, err := c.Read(make([]byte, 64))
	took := time.Since(start)
	if !errors.Is(err, io.EOF) || n != 0 {
		t.Fatalf("a silent client read %d bytes, %v; want the connection closed", n, err)
	}
	if took >= controlTimeout {
		t.Errorf("a silent client was kept %v, want about the read timeout %v", took, readTimeout)
	}
}

func TestControlClientsAtOnceAreBounded(t *testing.T) {
	_, path := startControl(t, 20*time.Second)
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range maxControlClients {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	// One more: closed at once rather than holding a goroutine and a
	// buffer for the read timeout.
	extra, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := extra.Read(make([]byte, 64)); !errors.Is(err, io.EOF) {
		t.Fatalf("client %d past the limit read %d bytes, %v; want the connection closed", maxControlClients+1, n, err)
	}
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err := queryControl(path)
		if err == nil && bytes.Contains(raw, []byte(`"ok"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after the idle clients left: %s, %v", raw, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestControlCreatesNoDirectoryItWasNotGiven(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing", "dir")
	if s, err := listenControl(filepath.Join(dir, "x.sock"), func() any { return nil }); err == nil {
		s.Close()
		t.Fatal("a control socket in a missing directory was created")
	}
	if _, err := os.Stat(filepath.Dir(dir)); !os.IsNotExist(err) {
		t.Fatalf("listenControl created %s (%v)", filepath.Dir(dir), err)
	}
}
