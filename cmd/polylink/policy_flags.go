package main

import (
	"flag"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/polylink/polylink/aggregator"
	"github.com/polylink/polylink/classify"
)

// policyFlags are `run`'s flags for redundancy where it counts (the config
// file takes the same names: class = ["bulk:udp:443"], metered = ["wwan*"],
// redundancy = "realtime").
type policyFlags struct {
	classes, metered listFlag
	redundancy       string
	grace            time.Duration
	secondCopy       string
	budget           string
}

func addPolicyFlags(fs *flag.FlagSet) *policyFlags {
	pf := &policyFlags{}
	fs.Var(&pf.classes, "class", "traffic class rule CLASS:COND[:COND…], tried in order before the defaults, e.g. bulk:udp:443 "+
		"(conditions: tcp|udp|icmp|proto=N, PORT[-PORT], a DSCP ef|af41|cs1|dscp=N, an IPv4 prefix; repeatable)")
	fs.Var(&pf.metered, "metered", "NIC name or glob paid for per byte, e.g. 'wwan*': bulk avoids paths over it, both ways, while another works (repeatable)")
	fs.StringVar(&pf.redundancy, "redundancy", "realtime", "realtime: copy real-time traffic to every path, bulk on the best one; all: copy everything (the seed's behaviour)")
	fs.DurationVar(&pf.grace, "metered-grace", 10*time.Second, "how long bulk waits, with no unmetered path working, before it takes a metered one")
	fs.StringVar(&pf.secondCopy, "second-copy", "auto", "second copy of real-time packets while fewer paths are up than before: "+
		"auto (20-40ms later, chosen from measurement, on a surviving path that has lost packets), always (also on a lossless one), off, or a fixed delay")
	fs.StringVar(&pf.budget, "metered-budget", "", "warn (log, status) when a metered NIC has sent this much since start, at 80 % and at 100 %, e.g. 2GB (kB, MB, GB: powers of 1000); traffic goes on")
	return pf
}

// policySpec is the validated policy settings: plain values, so a reload
// can compare two of them, and the engine's Policy is built from it.
type policySpec struct {
	rules      []string
	copyAll    bool
	metered    []string
	grace      time.Duration // negative: at once
	secondCopy time.Duration // 0 measured, negative off
	lossless   bool
	budget     uint64 // bytes; 0 none
}

// policy validates the flags.
func (pf *policyFlags) policy() (policySpec, error) {
	var p policySpec
	rules, err := classify.ParseRules(pf.classes)
	if err != nil {
		return p, usagef("run: --class: %v", err)
	}
	for _, r := range rules {
		p.rules = append(p.rules, r.String())
	}
	switch pf.redundancy {
	case "realtime":
	case "all":
		p.copyAll = true
	default:
		return p, usagef("run: --redundancy %q: want realtime or all", pf.redundancy)
	}
	for _, g := range pf.metered {
		if _, err := path.Match(g, ""); err != nil {
			return p, usagef("run: --metered %q: not a valid glob", g)
		}
	}
	p.metered = pf.metered
	if pf.grace < 0 || pf.grace > time.Hour {
		return p, usagef("run: --metered-grace %v: want 0 to 1h", pf.grace)
	}
	p.grace = pf.grace
	if pf.grace == 0 {
		p.grace = -1 // at once
	}
	switch pf.secondCopy {
	case "auto":
	case "always":
		p.lossless = true
	case "off":
		p.secondCopy = -1
	default:
		d, err := time.ParseDuration(pf.secondCopy)
		if err != nil || d < time.Millisecond || d > 100*time.Millisecond {
			return p, usagef("run: --second-copy %q: want auto, always, off, or a delay from 1ms to 100ms", pf.secondCopy)
		}
		p.secondCopy = d
	}
	if pf.budget != "" {
		n, ok := parseSize(pf.budget)
		if !ok {
			return p, usagef("run: --metered-budget %q: want a size like 500MB or 2GB", pf.budget)
		}
		p.budget = n
	}
	return p, nil
}

// parseSize reads a byte count with an optional decimal unit: 2GB, 1.5GB,
// 500MB, 800kB, 1000000.
func parseSize(s string) (uint64, bool) {
	mult := 1.0
	for _, u := range []struct {
		suffix string
		m      float64
	}{{"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v <= 0 || v*mult > 1e18 {
		return 0, false
	}
	return uint64(v * mult), true
}

// engine is the aggregator's Policy for these settings.
func (p policySpec) engine() aggregator.Policy {
	rules, _ := classify.ParseRules(p.rules) // validated by policy()
	return aggregator.Policy{Classifier: classify.New(rules), CopyAll: p.copyAll, Metered: p.metered,
		MeteredGrace: p.grace, SecondCopy: p.secondCopy, SecondCopyLossless: p.lossless, MeteredBudget: p.budget}
}
