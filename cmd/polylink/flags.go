package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usageError is bad usage: exit code 2, one line naming what is wrong.
type usageError struct{ msg string }

// Error implements error.
func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// listFlag is a repeatable string flag.
type listFlag []string

// String implements flag.Value.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set appends one value; comma-separated values are split too.
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// parseFlags parses args with fs, turning flag's multi-line complaints into
// one usage error; -h prints the flag list and is not an error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(nil)
		fmt.Fprintf(fs.Output(), "usage of polylink %s:\n", fs.Name())
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usagef("%s: %v (see 'polylink %s -h')", fs.Name(), err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q (see 'polylink %s -h')", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}
