package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/linkemu"
	"github.com/polylink/polylink/testbed/stream"
)

const testbedUsage = `usage: polylink testbed COMMAND
  up        build the seed's network (VM0, router VM1, VM2, four emulated links) and leave it running
  down      remove it: namespaces, links, emulator process
  status    say what of it exists [--json]
  run NAME  run a scenario (built in: %s; or FILE.json) [--plot FILE.svg] [--out FILE.json] [--json]
  demo      a robot with two uplinks behind strict NATs streams to a server: see it work [--plot FILE.svg] [--json]
Every command needs root: it creates network namespaces.`

// testbedCommand runs `polylink testbed …`.
func testbedCommand(args []string) error {
	if len(args) == 0 {
		return usagef(testbedUsage, scenarioNames())
	}
	cmd, rest := args[0], args[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Printf(testbedUsage+"\n", scenarioNames())
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "run", "demo":
		ra, err := parseTestbedRunArgs(cmd == "demo", rest)
		if err != nil {
			return err
		}
		if err := needRoot(); err != nil {
			return err
		}
		return testbedRun(ctx, ra)
	}
	if err := needRoot(); err != nil {
		return err
	}
	switch cmd {
	case "up":
		return testbedUp(rest)
	case "down":
		return testbedDown(rest)
	case "status":
		return testbedStatus(rest)
	case "emulate": // hidden: the background process of `testbed up`
		return testbedEmulate(ctx, rest)
	}
	return usagef("testbed: unknown command %q (up, down, status, run, demo)", cmd)
}

func prefixFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("testbed "+name, flag.ContinueOnError)
	return fs, fs.String("prefix", testbed.DefaultPrefix, "namespace name prefix")
}

func testbedUp(args []string) error {
	fs, prefix := prefixFlags("up")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	top, err := testbed.Up(context.Background(), testbed.UpOptions{Prefix: *prefix, Persistent: true})
	if errors.Is(err, testbed.ErrAlreadyUp) {
		fmt.Printf("testbed %s is already up; 'polylink testbed down' removes it\n", *prefix)
		return nil
	}
	if err != nil {
		return fmt.Errorf("testbed up: %w", err)
	}
	fmt.Printf("testbed %s is up. Hosts: %s-vm0, %s-vm1 (router), %s-vm2. Try:\n", top.Prefix, top.Prefix, top.Prefix, top.Prefix)
	fmt.Printf("  ip netns exec %s-vm1 polylink run --vip %s --router &\n", top.Prefix, testbed.VM1.Virtual())
	fmt.Printf("  ip netns exec %s-vm0 polylink run --vip %s --peer 198.18.0.3 --peer 198.18.1.3 &\n", top.Prefix, testbed.VM0.Virtual())
	fmt.Printf("  ip netns exec %s-vm0 ping -c 3 %s\n", top.Prefix, testbed.VM1.Virtual().Addr())
	fmt.Printf("  ip netns exec %s-vm0 polylink status\n", top.Prefix)
	return nil
}

func testbedDown(args []string) error {
	fs, prefix := prefixFlags("down")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := testbed.Down(*prefix, ""); err != nil {
		return fmt.Errorf("testbed down: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	fmt.Printf("testbed %s is down\n", *prefix)
	return nil
}

func testbedStatus(args []string) error {
	fs, prefix := prefixFlags("status")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := testbed.Status(*prefix, "")
	if err != nil {
		return fmt.Errorf("testbed status: %w", err)
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(st)
	}
	fmt.Print(renderTestbedStatus(st))
	return nil
}

// renderTestbedStatus says in a few lines what of a testbed exists.
func renderTestbedStatus(st *testbed.StatusReport) string {
	var b strings.Builder
	exists := 0
	for _, ns := range st.Namespaces {
		if ns.Exists {
			exists++
		}
	}
	if exists == 0 && st.StateFile == "" {
		return fmt.Sprintf("testbed %s is down ('polylink testbed up' builds it)\n", st.Prefix)
	}
	emu := "no emulator process"
	if st.EmulatorPID != 0 {
		emu = fmt.Sprintf("emulator process %d %s", st.EmulatorPID, map[bool]string{true: "running", false: "NOT running"}[st.EmulatorAlive])
	}
	fmt.Fprintf(&b, "testbed %s: %d of %d namespaces, %s\n", st.Prefix, exists, len(st.Namespaces), emu)
	for _, ns := range st.Namespaces {
		if !ns.Exists {
			fmt.Fprintf(&b, "  %-12s missing\n", ns.Name)
			continue
		}
		var links []string
		for _, l := range ns.Links {
			if l.Name == "lo" {
				continue
			}
			state := ""
			if !l.Up {
				state = " (down)"
			}
			links = append(links, strings.TrimSpace(l.Name+" "+strings.Join(l.Addrs, " ")+state))
		}
		fmt.Fprintf(&b, "  %-12s %s\n", ns.Name, strings.Join(links, ", "))
	}
	for i, n := range st.Nets {
		spec := testbed.Nets[i%len(testbed.Nets)]
		drops := func(s linkemu.Stats) uint64 {
			return s.DroppedOutage + s.DroppedLoss + s.DroppedGE + s.DroppedRate + s.DroppedQueueFull
		}
		fmt.Fprintf(&b, "  %s %s→%s: %d frames, %d dropped; %s→%s: %d frames, %d dropped; delay %v, loss %.1f%%\n",
			n.Name, spec.Left.Host, spec.Right.Host, n.Stats.AB.FramesIn, drops(n.Stats.AB),
			spec.Right.Host, spec.Left.Host, n.Stats.BA.FramesIn, drops(n.Stats.BA),
			n.Config.AB.Delay, 100*n.Config.AB.Loss)
	}
	return b.String()
}

func testbedEmulate(ctx context.Context, args []string) error {
	fs, prefix := prefixFlags("emulate")
	stateDir := fs.String("state-dir", testbed.DefaultStateDir, "state directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return testbed.RunEmulators(ctx, *prefix, *stateDir)
}

// needRoot refuses the testbed commands that build namespaces to a user
// who cannot (after -h, which anyone may ask for).
func needRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("testbed: needs root to create network namespaces and veth links; run it with sudo")
	}
	return nil
}

// testbedRunArgs are `testbed run` and `testbed demo`'s arguments.
type testbedRunArgs struct {
	name      string // the scenario: a built-in name or FILE.json
	demo      bool
	plot, out string
	asJSON    bool
}

// parseTestbedRunArgs reads `testbed run [flags] SCENARIO [flags]` (flags
// before or after the name) or `testbed demo [flags]`.
func parseTestbedRunArgs(demo bool, args []string) (testbedRunArgs, error) {
	ra := testbedRunArgs{demo: demo}
	title := "testbed run"
	if demo {
		title = "testbed demo"
	}
	fs := flag.NewFlagSet(title, flag.ContinueOnError)
	fs.StringVar(&ra.plot, "plot", "", "draw latency over time per system to this SVG file")
	fs.StringVar(&ra.out, "out", "", "write the full report (results, time series) to this JSON file\n(run: polylink-testbed-SCENARIO.json by default; demo: none)")
	fs.BoolVar(&ra.asJSON, "json", false, "print the report as JSON instead of the table")
	flags, names := splitFlags(fs, args)
	if err := parseFlags(fs, flags); err != nil {
		return ra, err
	}
	switch {
	case demo && len(names) > 0:
		return ra, usagef("testbed demo: unexpected argument %q (see 'polylink testbed demo -h')", names[0])
	case demo:
		ra.name = "demo"
	case len(names) != 1:
		return ra, usagef("testbed run: name one scenario (%s) or a FILE.json, e.g. 'polylink testbed run lossy --plot lossy.svg'",
			scenarioNames())
	default:
		ra.name = names[0]
	}
	return ra, nil
}

// splitFlags separates args into flags (with their values) and the other
// arguments, so flags may come before or after them; "--" ends the flags.
func splitFlags(fs *flag.FlagSet, args []string) (flags, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(rest, args[i+1:]...)
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // parseFlags names it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, rest
}

// testbedRun runs a scenario and prints the side-by-side table, what it
// means, and (for the demo) the checks of DESIGN.md's "working".
func testbedRun(ctx context.Context, ra testbedRunArgs) error {
	if ra.name == "nat" {
		return testbedRunNAT(ctx, ra)
	}
	plot, out, asJSON, demo := &ra.plot, &ra.out, &ra.asJSON, ra.demo
	sc, err := testbed.LoadScenario(ra.name)
	if err != nil {
		return usagef("testbed run: %v", err)
	}
	if *out == "" && !demo {
		*out = "polylink-testbed-" + sc.Name + ".json"
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("testbed: find the polylink binary: %w", err)
	}
	progress := func(s string) { fmt.Fprintln(os.Stderr, s) }
	if *asJSON {
		progress = nil
	}
	if !*asJSON {
		fmt.Printf("scenario %s: %s\n", sc.Name, sc.Description)
	}
	run, err := testbed.RunScenario(ctx, sc, testbed.RunOptions{Binary: bin, Progress: progress})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("testbed %s: interrupted; every namespace, link and process it made is removed", sc.Name)
	}
	if err != nil {
		return fmt.Errorf("testbed run %s: %s", sc.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	report := stream.Report{Title: "polylink testbed: " + sc.Name, Scenario: run, Results: run.Results}
	if err := writeReportFiles(report, *plot, *out); err != nil {
		return err
	}
	checks := run.Checks()
	failed := 0
	for _, c := range checks {
		if !c.OK && !c.Inconclusive {
			failed++
		}
	}
	if *asJSON {
		err := json.NewEncoder(os.Stdout).Encode(struct {
			stream.Report
			Checks []testbed.Check `json:"checks"`
		}{report, checks})
		if err == nil && failed > 0 && demo {
			err = fmt.Errorf("testbed demo: %d of %d checks failed", failed, len(checks))
		}
		return err
	}
	fmt.Println()
	fmt.Print(stream.Table(run.Results))
	fmt.Println()
	fmt.Print(run.Summary())
	for _, c := range checks {
		mark := "✓"
		switch {
		case !c.OK && c.Inconclusive:
			mark = "?" // the machine was too loaded to measure it
		case !c.OK:
			mark = "✗"
		}
		fmt.Printf("  %s %s: %s\n", mark, c.Name, c.Detail)
	}
	if failed > 0 && sc.Limit != "" {
		fmt.Println("  (failed checks are expected here: the scenario demonstrates the limit above)")
	}
	if demo && run.SenderStatus != "" {
		fmt.Println("\n`polylink status` on the robot at the end (which path carries what it receives, and why):")
		fmt.Print("  " + strings.ReplaceAll(strings.TrimRight(run.SenderStatus, "\n"), "\n", "\n  ") + "\n")
	}
	if failed > 0 && demo {
		return fmt.Errorf("testbed demo: %d of %d checks failed", failed, len(checks))
	}
	return nil
}

func writeReportFiles(r stream.Report, plot, out string) error {
	if plot != "" {
		f, err := os.Create(plot)
		if err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
		defer f.Close()
		if err := r.WriteSVG(f); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
		fmt.Fprintf(os.Stderr, "plot written to %s\n", plot)
	}
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer f.Close()
		if err := r.WriteJSON(f); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		fmt.Fprintf(os.Stderr, "report written to %s\n", out)
	}
	return nil
}
