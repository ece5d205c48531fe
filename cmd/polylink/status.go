package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/router"
)

// statusDoc is what `polylink status --json` prints: the contract in
// DESIGN.md (tun, local, hosts, counters at the top level) plus more.
type statusDoc struct {
	Version string `json:"version"`
	PID     int    `json:"pid"`
	// NetNS is the inode of the daemon's network namespace: status tells
	// when it asked a daemon of another namespace (see sameNetns).
	NetNS uint64           `json:"netns,omitempty"`
	TUN   router.TUNStatus `json:"tun"`
	aggregator.Status
	Router router.Status `json:"router"`
	// NoRoute lists local NICs without a route to a peer (see noRoutes).
	NoRoute []noRoute `json:"no_route,omitempty"`
	// IPIPBlocked lists NICs on which raw IP-in-IP gets no answer while
	// UDP does (see blockedWatch).
	IPIPBlocked []ipipBlocked `json:"ipip_blocked,omitempty"`
	// Exit is the exit's NAT counters, on a node run with --exit.
	Exit *router.ExitStatus `json:"exit,omitempty"`
}

func buildStatus(tun router.Device, rt *router.Router, eng *aggregator.Engine, links *linkFeed) statusDoc {
	rs := rt.Status()
	return statusDoc{Version: version, PID: os.Getpid(), NetNS: netnsInode("/proc/self/ns/net"), TUN: rs.TUN,
		Status: eng.Status(), Router: rs, NoRoute: noRoutes(links.mon.NICs(), *links.peers.Load())}
}

func statusCommand(args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	tun := fs.String("tun", "pl0", "TUN name of the daemon to ask")
	control := fs.String("control", "", "control socket path (default /run/polylink/TUN.sock; in another network namespace /run/polylink/netns-INODE/TUN.sock)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	watch := fs.Bool("watch", false, "refresh every second until interrupted")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := *control
	if path == "" {
		path = defaultControlPath(*tun)
	}
	show := func() error {
		raw, err := queryControl(path)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if err := sameNetns(raw, path, *control != ""); err != nil {
			return err
		}
		if *asJSON {
			fmt.Println(string(raw))
			return nil
		}
		var doc statusDoc
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("status: daemon sent unreadable status: %w", err)
		}
		fmt.Print(renderStatus(&doc))
		return nil
	}
	if !*watch {
		return show()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for {
		if !*asJSON {
			fmt.Print("\033[H\033[2J") // clear the terminal
		}
		if err := show(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// sameNetns makes sure status never passes off another network namespace's
// daemon as this one's: /run is shared by every namespace, so a socket path
// can lead to a daemon elsewhere. For the default path that is an error;
// for a --control the user chose it is said on stderr.
func sameNetns(raw []byte, path string, explicit bool) error {
	var doc struct {
		NetNS uint64 `json:"netns"`
	}
	own := netnsInode("/proc/self/ns/net")
	if json.Unmarshal(raw, &doc) != nil || doc.NetNS == 0 || own == 0 || doc.NetNS == own {
		return nil
	}
	msg := fmt.Sprintf("the daemon on %s runs in another network namespace (net:[%d]; this is net:[%d])", path, doc.NetNS, own)
	if explicit {
		fmt.Fprintf(os.Stderr, "polylink: status: note: %s\n", msg)
		return nil
	}
	return fmt.Errorf("status: %s: run status inside its namespace (ip netns exec NAME polylink status) or name the socket with --control", msg)
}
