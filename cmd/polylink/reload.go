package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"syscall"

	"go.uber.org/zap"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/router"
	"github.com/polylink/polylink/session"
)

// Reload on SIGHUP (systemctl reload): the config file is read again, with
// the same command line on top, and what may change on a running daemon is
// applied in place: peers, excluded NICs, the probe interval, routes, the
// traffic policy (--class, --metered, --redundancy, …), and in keyed mode
// the allowed keys (--peer-key, --allow; keyedreload.go). The TUN,
// the sockets of the NICs that stay and every connection already up are
// left alone, so a running stream does not lose a packet. A change to
// anything else (vip, tun, mtu, router, exit, control, metrics, …) is
// refused as a whole with one log line naming it, and so is a file that
// does not parse or check: the daemon keeps running on the configuration
// it has.

// liveSettings are the runConfig fields a reload may change.
var liveSettings = map[string]bool{"peers": true, "exclude": true, "probe": true, "routes": true,
	"keyed":  true, // but not --key itself: checkKeyedReload
	"policy": true,
	"args":   true, "config": true} // args and config: where the settings came from

// fieldFlags names runConfig fields whose flag is spelled differently.
var fieldFlags = map[string]string{"relay": "router", "hostTTL": "host-timeout", "maxHosts": "max-hosts",
	"maxNICs": "max-nics", "logFormat": "log", "cpuProf": "cpuprofile", "routes": "route"}

// reloadSignals starts catching SIGHUP. Called before the daemon sets
// anything up, so a reload sent while it starts does not kill it.
func reloadSignals() chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch
}

// reloadTarget is what a reload changes.
type reloadTarget struct {
	eng   *aggregator.Engine
	links *linkFeed
	rt    *router.Router
	kern  *kernelSide
	node  *session.Node // keyed mode's keys; nil when keyless
	watch *watchers
}

// reloadLoop applies a reload per SIGHUP on hup until ctx ends.
func reloadLoop(ctx context.Context, hup chan os.Signal, cfg runConfig, to reloadTarget, log *zap.Logger) {
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			cfg = reload(cfg, to, log)
		}
	}
}

// reload returns the configuration in force after one reload: next if it
// was applied, cur if it was refused.
func reload(cur runConfig, to reloadTarget, log *zap.Logger) runConfig {
	if cur.config == "" {
		log.Warn("SIGHUP: started without --config, nothing to re-read")
		return cur
	}
	next, err := parseRunFlags(cur.args)
	if err == nil {
		err = checkPeersNotLocal(literalPeers(next.peers))
	}
	if err != nil {
		log.Error("reload refused, running configuration kept", zap.String("config", cur.config), zap.String("why", err.Error()))
		return cur
	}
	// First: keyless<->keyed changes the MTU too, and the key is the
	// reason to name.
	if err := checkKeyedReload(to.node, cur, next); errors.Is(err, errNeedsRestart) {
		log.Error("reload refused, running configuration kept: these settings need a restart",
			zap.String("config", cur.config), zap.Strings("changed", []string{"key"}), zap.String("why", err.Error()))
		return cur
	} else if err != nil {
		log.Error("reload refused, running configuration kept", zap.String("config", cur.config), zap.String("why", err.Error()))
		return cur
	}
	if fixed := fixedChanges(cur, next); len(fixed) > 0 {
		log.Error("reload refused, running configuration kept: these settings need a restart",
			zap.String("config", cur.config), zap.Strings("changed", fixed))
		return cur
	}
	var applied []string
	if !slices.Equal(cur.routes, next.routes) {
		// First, so a refusal leaves nothing else changed.
		if err := to.kern.setRoutes(to.rt, next); err != nil {
			if rerr := to.kern.setRoutes(to.rt, cur); rerr != nil {
				log.Error("reload: restoring the routes failed too", zap.Error(rerr))
			}
			log.Error("reload refused, running configuration kept", zap.String("why", err.Error()))
			return cur
		}
		applied = append(applied, "route")
	}
	if !slices.Equal(cur.exclude, next.exclude) {
		if err := to.links.mon.SetExclude(next.exclude); err != nil {
			// Checked by parseRunFlags already; nothing was changed.
			log.Error("reload refused, running configuration kept", zap.String("why", err.Error()))
			return cur
		}
		applied = append(applied, "exclude")
	}
	var peers []netip.AddrPort
	peersChanged := !slices.Equal(cur.peers, next.peers)
	if peersChanged {
		var err error
		if peers, err = resolvePeers(context.Background(), next.peers, net.DefaultResolver); err != nil {
			log.Error("reload refused, running configuration kept", zap.String("why", err.Error()))
			return cur
		}
	}
	if to.node != nil {
		// After the routes (an --allow key covers the routes via its
		// address) and before the peers (a new --peer-key is the gateway
		// their discovery looks for).
		changed, err := applyKeyed(to.node, to.eng, next)
		if err != nil {
			// Not expected after checkKeyedReload; the keys are as far
			// as they got, which the log says.
			log.Error("reload: applying the keys failed part way", zap.Error(err))
		}
		if changed {
			applied = append(applied, "keys")
		}
	}
	if peersChanged {
		if to.watch != nil {
			to.watch.setPeers(next.peers, peers) // and to the engine
		} else {
			to.eng.SetPeers(peers)
		}
		to.links.setPeers(peerAddrs(peers))
		applied = append(applied, "peer")
	}
	if cur.probe != next.probe {
		to.eng.SetProbeInterval(next.probe)
		applied = append(applied, "probe")
	}
	if !reflect.DeepEqual(cur.policy, next.policy) {
		to.eng.SetPolicy(next.policy.engine())
		applied = append(applied, "policy")
	}
	if len(applied) == 0 {
		log.Info("reloaded: nothing changed", zap.String("config", next.config))
	} else {
		log.Info("reloaded", zap.String("config", next.config), zap.Strings("applied", applied),
			zap.Stringers("peers", next.peers), zap.Strings("exclude", next.exclude), zap.Duration("probe", next.probe))
	}
	return next
}

// fixedChanges names the settings other than the live ones that differ
// between a and b. Fields are compared by their printed form, which also
// covers fields added to runConfig later: unless listed as live, a new
// setting counts as one that needs a restart.
func fixedChanges(a, b runConfig) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		name := va.Type().Field(i).Name
		if liveSettings[name] {
			continue
		}
		if fmt.Sprintf("%#v", va.Field(i)) != fmt.Sprintf("%#v", vb.Field(i)) {
			if f, ok := fieldFlags[name]; ok {
				name = f
			}
			out = append(out, name)
		}
	}
	return out
}

// setPeers replaces the peers status checks routes to.
func (f *linkFeed) setPeers(peers []netip.Addr) { f.peers.Store(&peers) }
