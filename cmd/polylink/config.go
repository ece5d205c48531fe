package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"
)

// A config file is TOML whose keys are `polylink run`'s long flag names,
// all at the top level:
//
//	vip   = "198.19.0.2/24"
//	peer  = ["203.0.113.7", "198.51.100.7"]
//	probe = "100ms"
//
// It is read into the same flag set the command line fills, so a key is
// valid exactly when the flag is, every value goes through the flag's own
// parser and the checks after it, and a flag given on the command line
// wins over the file. The parser is go-toml's (v2, its unstable AST
// package) because it reports where each key stands: every error in a file
// is one line naming the file and the line.

// maxConfigSize bounds what is read: a config file is a few hundred bytes.
const maxConfigSize = 1 << 20

// reservedKeys are flags planned for this version's successors (see
// DESIGN.md, wave 2). A file naming one is refused with a clear message
// rather than a bare "unknown key", and the key starts to work, with no
// change here, the day the flag exists: flags take precedence.
var reservedKeys = []string{"port", "exit", "metered"}

// notInFile are flags a config file may not set.
var notInFile = map[string]string{
	"config": "a config file cannot name another one",
}

// configFile records where the file's settings came from, to put a line
// number on errors found after parsing.
type configFile struct {
	path string
	line map[string]int // flag name → line of its key
	cli  map[string]bool
	// data, when not nil, is the file's content, read instead of path
	// (the fuzz test feeds bytes without writing a file per input).
	data []byte
}

// apply reads the file at cf.path (none if empty) into fs, skipping flags
// already given on the command line.
func (cf *configFile) apply(fs *flag.FlagSet) error {
	if cf.path == "" {
		return nil
	}
	data := cf.data
	if data == nil {
		var err error
		if data, err = readConfig(cf.path); err != nil {
			return usagef("--config: %v", err)
		}
	}
	cf.line, cf.cli = map[string]int{}, map[string]bool{}
	fs.Visit(func(f *flag.Flag) { cf.cli[f.Name] = true })
	p := unstable.Parser{}
	p.Reset(data)
	for p.NextExpression() {
		if err := cf.expression(fs, &p, p.Expression()); err != nil {
			return err
		}
	}
	if err := p.Error(); err != nil {
		var perr *unstable.ParserError
		if errors.As(err, &perr) && len(perr.Highlight) > 0 {
			return cf.errorf(p.Shape(p.Range(perr.Highlight)).Start.Line, "%s", perr.Message)
		}
		return usagef("%s: %v", cf.path, err)
	}
	return nil
}

func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a polylink config file", path, maxConfigSize)
	}
	return data, nil
}

func (cf *configFile) errorf(line int, format string, args ...any) error {
	return usagef("%s:%d: %s", cf.path, line, fmt.Sprintf(format, args...))
}

// expression applies one top-level TOML expression: a key = value line.
func (cf *configFile) expression(fs *flag.FlagSet, p *unstable.Parser, e *unstable.Node) error {
	keys := e.Key()
	keys.Next()
	first := keys.Node()
	line := p.Shape(first.Raw).Start.Line
	if e.Kind != unstable.KeyValue {
		return cf.errorf(line, "tables are not used: write every setting as a top-level key = value")
	}
	name := string(first.Data)
	if keys.Next() {
		return cf.errorf(line, "dotted key %q: keys are the flag names, e.g. vip or peer", name+"."+string(keys.Node().Data))
	}
	f := fs.Lookup(name)
	switch {
	case notInFile[name] != "":
		return cf.errorf(line, "%s: %s", name, notInFile[name])
	case f == nil && slices.Contains(reservedKeys, name):
		return cf.errorf(line, "key %q is reserved for a later polylink: this build has no --%s", name, name)
	case f == nil:
		return cf.errorf(line, "unknown key %q; keys are the flag names of 'polylink run -h'%s", name, closest(fs, name))
	}
	if prev, dup := cf.line[name]; dup {
		return cf.errorf(line, "%s is set twice (first at line %d)", name, prev)
	}
	cf.line[name] = line
	values, err := flagValues(f, e.Value())
	if err != nil {
		return cf.errorf(line, "%s: %v", name, err)
	}
	if cf.cli[name] {
		return nil // the command line wins
	}
	for _, v := range values {
		if err := fs.Set(name, v); err != nil {
			return cf.errorf(line, "%s = %q: %v", name, v, err)
		}
	}
	return nil
}

// flagValues turns a TOML value into the strings the flag f parses,
// checking the TOML type against the flag's kind so that `probe = 100`
// (a number where a duration is meant) says so.
func flagValues(f *flag.Flag, v *unstable.Node) ([]string, error) {
	if v.Kind == unstable.Array {
		if !isListFlag(f) {
			return nil, errors.New("takes one value, not an array")
		}
		var out []string
		it := v.Children()
		for it.Next() {
			s, err := scalar(f, it.Node())
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(f, v)
	return []string{s}, err
}

func isListFlag(f *flag.Flag) bool {
	_, ok := f.Value.(*listFlag)
	return ok
}

// scalar is one TOML scalar as a flag argument.
func scalar(f *flag.Flag, v *unstable.Node) (string, error) {
	var want unstable.Kind = unstable.String
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			want = unstable.Bool
		case int, int64, uint, uint64:
			want = unstable.Integer
		case float64:
			want = unstable.Float
		case time.Duration:
			if v.Kind != unstable.String {
				return "", fmt.Errorf("want a duration in quotes, e.g. \"%v\"", f.DefValue)
			}
		}
	}
	if v.Kind == unstable.Integer && want == unstable.Float {
		want = unstable.Integer
	}
	if v.Kind != want {
		return "", fmt.Errorf("want %s, got %s", kindName(want), kindName(v.Kind))
	}
	s := string(v.Data)
	if v.Kind == unstable.Integer {
		n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
		if err != nil {
			return "", fmt.Errorf("integer %s: %v", s, err)
		}
		s = strconv.FormatInt(n, 10)
	}
	return s, nil
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Bool:
		return "true or false"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a number"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "a table"
	}
	return "a date or time"
}

// closest suggests a flag name one edit or a dash away from name.
func closest(fs *flag.FlagSet, name string) string {
	var best string
	fs.VisitAll(func(f *flag.Flag) {
		if best == "" && notInFile[f.Name] == "" && nearlyEqual(f.Name, name) {
			best = f.Name
		}
	})
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// nearlyEqual: equal ignoring case and '-' versus '_', or one edit apart.
func nearlyEqual(a, b string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
	a, b = norm(a), norm(b)
	if a == b {
		return true
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(a)-len(b) > 1 {
		return false
	}
	for i := range len(b) {
		if a[i] != b[i] {
			if len(a) == len(b) {
				return a[i+1:] == b[i+1:] // one substitution
			}
			return a[i+1:] == b[i:] // one insertion
		}
	}
	return true
}

// flagInMessage finds the flags an error message names ("--vip …").
var flagInMessage = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)

// locate puts the file and line on an error found after parsing (by the
// checks of the values together) when the flag it names came from the
// file, so that `--vip 198.19.0.0/24: need a host address` points at the
// file's vip line.
func (cf *configFile) locate(err error) error {
	if err == nil || cf.line == nil {
		return err
	}
	var ue usageError
	if !errors.As(err, &ue) || strings.HasPrefix(ue.msg, cf.path+":") {
		return err // not a usage error, or located already
	}
	msg := strings.TrimPrefix(ue.msg, "run: ")
	named := flagInMessage.FindAllStringSubmatch(ue.msg, -1)
	for _, m := range named {
		if line, ok := cf.line[m[1]]; ok && !cf.cli[m[1]] {
			return cf.errorf(line, "%s", msg)
		}
	}
	for _, m := range named {
		if cf.cli[m[1]] {
			return err // about the command line
		}
	}
	return usagef("%s: %s", cf.path, msg) // e.g. a key the file lacks
}

// checkConfigCommand is `polylink check-config FILE`: the file is read and
// checked as `run --config FILE` would, without creating anything. Exit 0
// when `run` would accept it, 2 with one line saying where it is wrong.
func checkConfigCommand(args []string) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Println("usage: polylink check-config FILE   check a config file for 'polylink run --config FILE'")
		return flag.ErrHelp
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return usagef("check-config: want one argument, the config file: polylink check-config /etc/polylink/pl0.toml")
	}
	c, err := parseRunFlags([]string{"--config", args[0]})
	if err != nil {
		return err
	}
	role := fmt.Sprintf("peers: %d", len(c.peers))
	if c.relay {
		role = "router node, " + role
	}
	for _, a := range twinPeers(c.peers) {
		role += fmt.Sprintf(", %s raw and UDP (UDP stands by on NICs where raw gets through)", a)
	}
	if c.exit {
		role += ", exit"
	}
	if len(c.routes) > 0 {
		role += fmt.Sprintf(", routes: %d", len(c.routes))
	}
	fmt.Printf("%s: ok (tun %s, vip %s, %s)\n", args[0], c.tun, c.vip, role)
	if w := metricsExposure(c.metrics, c.vip); c.metrics != "" && w != "" {
		fmt.Fprintf(os.Stderr, "%s: warning: %s\n", args[0], w)
	}
	return nil
}
