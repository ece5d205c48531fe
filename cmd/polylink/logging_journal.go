package main

import (
	"fmt"
	"os"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
)

// Under systemd, stderr is a stream into the journal, which stamps every
// line with its own time and reads a leading syslog priority ("<3>") as the
// line's level (SyslogLevelPrefix=, on by default). Console lines then drop
// the time and start with the priority, so `journalctl -p warning` finds
// the warnings and nothing is stamped twice. JSON lines start with the
// priority too: the journal strips it, so the stored MESSAGE is the JSON
// object alone (`journalctl -o cat` feeds a log shipper clean JSON) and
// the entry has its PRIORITY. They keep their "ts": a shipper reading the
// objects wants the time inside them.

// stderrIsJournal reports whether stderr is the journal stream systemd
// named in $JOURNAL_STREAM ("device:inode"): only then, since a daemon
// started from a shell inside a unit inherits the variable with another
// stderr.
func stderrIsJournal() bool {
	return isJournalStream(os.Getenv("JOURNAL_STREAM"), int(os.Stderr.Fd()))
}

func isJournalStream(env string, fd int) bool {
	var dev, ino uint64
	if _, err := fmt.Sscanf(env, "%d:%d", &dev, &ino); err != nil {
		return false
	}
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Dev == dev && st.Ino == ino
}

// journalConsole adapts a console logger configuration to the journal.
func journalConsole(cfg *zap.Config) {
	cfg.EncoderConfig.TimeKey = ""
	cfg.EncoderConfig.EncodeLevel = func(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
		enc.AppendString(syslogPriority(l) + l.CapitalString())
	}
}

// syslogPriority is the journal's prefix for a zap level.
func syslogPriority(l zapcore.Level) string {
	switch {
	case l >= zapcore.DPanicLevel:
		return "<2>" // crit
	case l == zapcore.ErrorLevel:
		return "<3>"
	case l == zapcore.WarnLevel:
		return "<4>"
	case l == zapcore.InfoLevel:
		return "<6>"
	}
	return "<7>"
}

// journalJSONEncoding is the name zap knows the journal's JSON encoder by.
const journalJSONEncoding = "polylink-journal-json"

var registerJournalJSON = sync.OnceValue(func() error {
	return zap.RegisterEncoder(journalJSONEncoding, func(c zapcore.EncoderConfig) (zapcore.Encoder, error) {
		return priorityEncoder{zapcore.NewJSONEncoder(c)}, nil
	})
})

// journalJSON adapts a JSON logger configuration to the journal.
func journalJSON(cfg *zap.Config) error {
	if err := registerJournalJSON(); err != nil {
		return err
	}
	cfg.Encoding = journalJSONEncoding
	return nil
}

// priorityEncoder writes each entry as its inner encoder does, behind the
// entry's syslog priority.
type priorityEncoder struct{ zapcore.Encoder }

var prefixPool = buffer.NewPool()

// Clone implements zapcore.Encoder.
func (e priorityEncoder) Clone() zapcore.Encoder { return priorityEncoder{e.Encoder.Clone()} }

// EncodeEntry implements zapcore.Encoder.
func (e priorityEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	line, err := e.Encoder.EncodeEntry(ent, fields)
	if err != nil {
		return nil, err
	}
	out := prefixPool.Get()
	out.AppendString(syslogPriority(ent.Level))
	_, _ = out.Write(line.Bytes())
	line.Free()
	return out, nil
}
