package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// controlServer answers status requests on a unix socket. The socket is
// the daemon user's, mode 0660: that user, its group's members and root may
// ask (see socketMode). Protocol: the client writes one line, "status"; the server writes
// one JSON document and closes the connection.
type controlServer struct {
	ln       net.Listener
	path     string
	snapshot func() any
	wg       sync.WaitGroup
	// readTimeout bounds how long a client may take to send its request.
	readTimeout time.Duration
	slots       chan struct{} // one per client being served: at most maxControlClients
}

// What one control client may cost the daemon, whatever it sends: a
// request is one short line, so these are generous.
const (
	maxControlRequest  = 4096            // bytes; longer requests are refused unread
	controlReadTimeout = 2 * time.Second // to send the request
	controlTimeout     = 5 * time.Second // for the whole exchange
	maxControlClients  = 16              // served at once; more are closed at accept
)

func listenControl(path string, snapshot func() any) (*controlServer, error) {
	return listenControlWith(path, snapshot, controlReadTimeout)
}

// listenControlWith is listenControl with the request read timeout given
// (tests shorten it).
func listenControlWith(path string, snapshot func() any, readTimeout time.Duration) (*controlServer, error) {
	if isDefaultControlDir(filepath.Dir(path)) {
		if err := os.MkdirAll(filepath.Dir(path), socketDirMode); err != nil {
			return nil, fmt.Errorf("control socket directory: %w", err)
		}
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s is in use: is polylink already running on this TUN?", path)
	}
	_ = os.Remove(path) // a stale socket of a daemon that died
	old := syscall.Umask(socketUmask)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &controlServer{ln: ln, path: path, snapshot: snapshot,
		readTimeout: readTimeout, slots: make(chan struct{}, maxControlClients)}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *controlServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case s.slots <- struct{}{}:
		default:
			c.Close() // a flood of idle clients must not pile up goroutines and buffers
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			s.handle(c)
		}()
	}
}

// handle answers one client; the snapshot is taken (under the engine's read
// locks) before writing, so a slow client never holds an engine lock. The
// request is read through a fixed buffer of maxControlRequest bytes within
// readTimeout: a client that sends no newline costs that buffer and that
// time, then its connection is closed.
func (s *controlServer) handle(c net.Conn) {
	defer c.Close()
	start := time.Now()
	_ = c.SetDeadline(start.Add(controlTimeout))
	_ = c.SetReadDeadline(start.Add(s.readTimeout))
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxControlRequest), maxControlRequest).ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) || errors.Is(err, io.EOF) && len(line) == maxControlRequest {
			fmt.Fprintf(c, "{\"error\":\"request longer than %d bytes\"}\n", maxControlRequest)
		}
		return
	}
	switch strings.TrimSpace(string(line)) {
	case "status":
		_ = json.NewEncoder(c).Encode(s.snapshot())
	default:
		fmt.Fprintf(c, "{\"error\":%q}\n", "unknown request; try: status")
	}
}

// Close stops serving and removes the socket file.
func (s *controlServer) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	_ = os.Remove(s.path)
	if dir := filepath.Dir(s.path); dir != controlDir && isDefaultControlDir(dir) {
		_ = os.Remove(dir) // a namespace's own directory, if no other daemon uses it
	}
	return err
}

// queryControl asks the daemon at path for its status and returns the raw
// JSON document.
func queryControl(path string) ([]byte, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("no polylink daemon answers on %s: start one with 'polylink run', or name its TUN with --tun or its socket with --control", path)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%s: permission denied: the control socket belongs to the daemon's user and group; join that group (polylink under systemd) or use sudo", path)
		}
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("status\n")); err != nil {
		return nil, fmt.Errorf("ask %s: %w", path, err)
	}
	var raw json.RawMessage
	if err := json.NewDecoder(c).Decode(&raw); err != nil {
		return nil, fmt.Errorf("read status from %s: %w", path, err)
	}
	return raw, nil
}
