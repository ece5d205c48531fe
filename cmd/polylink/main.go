// Command polylink is a multipath redundant-transmission virtual router for
// real-time media: every packet goes out on every working path, the far end
// keeps the first copy.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `polylink: multipath redundant-transmission virtual router

usage:
  polylink run      --vip ADDR/PREFIX --peer UNDERLAY_ADDR [...]   run the daemon
  polylink run      --config FILE [flags that override it]
  polylink check-config FILE                                    check a config file
  polylink status   [--tun NAME | --control PATH] [--json] [--watch]
  polylink testbed  up | down | status | run SCENARIO | demo
  polylink genkey                      print a new private key
  polylink pubkey   < PRIVATE_KEY      print its public key
  polylink version

'polylink COMMAND -h' lists a command's flags.
`

// Exit codes: 0 success, 1 runtime failure, 2 bad usage.
const (
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

func dispatch(args []string) int {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = runCommand(args[1:])
	case "status":
		err = statusCommand(args[1:])
	case "check-config":
		err = checkConfigCommand(args[1:])
	case "testbed":
		err = testbedCommand(args[1:])
	case "genkey":
		err = genkeyCommand(args[1:], os.Stdout)
	case "pubkey":
		err = pubkeyCommand(args[1:], os.Stdin, os.Stdout)
	case "version", "--version", "-v":
		fmt.Println("polylink", version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		err = usagef("unknown command %q; run 'polylink help' for the list", args[0])
	}
	return exitCode(err)
}

// exitCode prints err as one line on stderr and maps it to an exit code.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(os.Stderr, "polylink:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}
