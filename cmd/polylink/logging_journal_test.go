package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
)

func TestJournalStreamIsRecognised(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	must(t, err)
	defer f.Close()
	var st unix.Stat_t
	must(t, unix.Fstat(int(f.Fd()), &st))
	if !isJournalStream(fmt.Sprintf("%d:%d", st.Dev, st.Ino), int(f.Fd())) {
		t.Error("the stream JOURNAL_STREAM names was not recognised")
	}
	for _, env := range []string{"", "garbage", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1)} {
		if isJournalStream(env, int(f.Fd())) {
			t.Errorf("JOURNAL_STREAM=%q taken for this stream", env)
		}
	}
}

// TestJournalConsoleLines: under the journal a console line starts with
// its syslog priority and carries no time of its own.
func TestJournalConsoleLines(t *testing.T) {
	cfg := zap.NewDevelopmentConfig()
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	journalConsole(&cfg)
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg.EncoderConfig), zapcore.AddSync(&buf), zapcore.DebugLevel))
	log.Info("path up", zap.String("link", "eth0"))
	log.Warn("reload refused")
	log.Error("boom")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for i, want := range []string{"<6>INFO\tpath up\t{\"link\": \"eth0\"}", "<4>WARN\treload refused", "<3>ERROR\tboom"} {
		if i >= len(lines) || lines[i] != want {
			t.Errorf("line %d: %q, want %q", i, lines, want)
		}
	}
}

// TestJournalJSONLines: under the journal (stderr is the stream
// $JOURNAL_STREAM names) a JSON line starts with its syslog priority, which
// the journal strips into PRIORITY, and what follows is the JSON object
// with its level and time; away from the journal the line is bare JSON.
func TestJournalJSONLines(t *testing.T) {
	for _, journal := range []bool{true, false} {
		r, w, err := os.Pipe()
		must(t, err)
		var st unix.Stat_t
		must(t, unix.Fstat(int(w.Fd()), &st))
		env := ""
		if journal {
			env = fmt.Sprintf("%d:%d", st.Dev, st.Ino)
		}
		t.Setenv("JOURNAL_STREAM", env)
		saved := os.Stderr
		os.Stderr = w // zap opens "stderr" when the logger is built
		log, err := newLogger("json", false)
		os.Stderr = saved
		if err != nil {
			w.Close()
			r.Close()
			t.Fatal(err)
		}
		log.Info("path up", zap.String("link", "eth0"))
		log.Warn("reload refused")
		log.Error("boom")
		_ = log.Sync()
		w.Close()
		out, _ := io.ReadAll(r)
		r.Close()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		wantPrefix := map[string]string{"info": "<6>", "warn": "<4>", "error": "<3>"}
		if len(lines) != 3 {
			t.Fatalf("journal %v: %d lines, want 3:\n%s", journal, len(lines), out)
		}
		for i, level := range []string{"info", "warn", "error"} {
			line := lines[i]
			if journal {
				if !strings.HasPrefix(line, wantPrefix[level]) {
					t.Errorf("journal: line %q, want it to start with %s", line, wantPrefix[level])
					continue
				}
				line = strings.TrimPrefix(line, wantPrefix[level])
			}
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Errorf("journal %v: %q after the priority is not a JSON object: %v", journal, line, err)
				continue
			}
			if obj["level"] != level || obj["ts"] == nil {
				t.Errorf("journal %v: %v, want level %q and a time", journal, obj, level)
			}
		}
	}
}
