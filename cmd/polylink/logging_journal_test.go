package main

import (
	"bytes"
	"fmt"
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
