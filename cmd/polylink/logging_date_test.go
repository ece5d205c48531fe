package main

import (
	"io"
	"os"
	"regexp"
	"testing"
)

// Console log lines start with an ISO-8601 date and time: a log read the
// next day, or from a journal, must say when.
func TestConsoleLogLinesCarryTheDate(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	saved := os.Stderr
	os.Stderr = w // zap opens "stderr" when the logger is built
	log, err := newLogger("console", false)
	os.Stderr = saved
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	log.Info("polylink running")
	_ = log.Sync()
	w.Close()
	out, _ := io.ReadAll(r)
	if !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{4})\tINFO\tpolylink running\n$`).Match(out) {
		t.Fatalf("console log line %q: want an ISO-8601 date and time first", out)
	}
}
