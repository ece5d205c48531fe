// Command polylink is a multipath redundant-transmission virtual router for
// real-time media: every packet goes out on every working path, the far end
// keeps the first copy.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `polylink: multipath redundant-transmission virtual router

usage:
  polylink run      --vip ADDR/PREFIX --peer UNDERLAY_ADDR [...]   run the daemon
  polylink status   [--tun NAME | --control PATH] [--json] [--watch]
  polylink testbed  up | down | status | run SCENARIO | demo
  polylink version
`

// exitUsage is the exit code for bad usage; runtime failures exit 1.
const exitUsage = 2

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(exitUsage)
	}
	switch os.Args[1] {
	case "version", "--version", "-v":
		fmt.Println("polylink", version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "polylink: unknown command %q; run 'polylink help' for the list\n", os.Args[1])
		os.Exit(exitUsage)
	}
}
