package main

import (
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger is the one place a logger is built: "console" for a person at a
// terminal, "json" for a log collector. By default one line per event an
// operator follows (start, stop, NICs and paths coming and going, hosts
// joining and leaving), all rare; verbose adds debug detail.
func newLogger(format string, verbose bool) (*zap.Logger, error) {
	level := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	if verbose {
		level.SetLevel(zapcore.DebugLevel)
	}
	var cfg zap.Config
	switch format {
	case "console", "":
		cfg = zap.NewDevelopmentConfig()
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder // a date too: logs outlive the day
		cfg.DisableStacktrace = true
		cfg.Development = false
		if stderrIsJournal() {
			journalConsole(&cfg)
		}
	case "json":
		cfg = zap.NewProductionConfig()
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
		if stderrIsJournal() {
			if err := journalJSON(&cfg); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("--log %q: want console or json", format)
	}
	cfg.Level = level
	cfg.DisableCaller = !verbose
	cfg.Sampling = nil
	return cfg.Build()
}
