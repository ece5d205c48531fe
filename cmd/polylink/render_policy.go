package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/polylink/polylink/aggregator"
)

// renderHostPolicy says where a host's bulk goes, whether real-time gets a
// second copy, and what each path carried per class.
func renderHostPolicy(b *strings.Builder, h *aggregator.HostStatus) {
	bulk := h.BulkPath
	if bulk == "" {
		bulk = "none now"
		if h.BulkNoPath > 0 {
			bulk += fmt.Sprintf(" (%d bulk packets had no path: none up, or only metered ones within the grace)", h.BulkNoPath)
		}
	}
	fmt.Fprintf(b, "  bulk on: %s   paths up %d of %d", bulk, h.UpPaths, h.PeakUpPaths)
	switch {
	case h.SecondCopy:
		fmt.Fprintf(b, "   second copy of real-time ON, %.0f ms later (%d sent)", h.SecondCopyDelayMs, h.SecondCopies)
	case h.SecondCopyHeld != "":
		b.WriteString("   second copy held: " + h.SecondCopyHeld)
	case h.SecondCopies > 0:
		fmt.Fprintf(b, "   second copy off (%d sent earlier)", h.SecondCopies)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  PATH\tMETERED\tREAL-TIME\tBULK\tSECOND COPIES\t")
	for _, c := range h.Connections {
		if c.TxRealtimeBytes+c.TxBulkBytes == 0 && !c.Metered && !c.RemoteMetered {
			continue
		}
		m := "-"
		switch {
		case c.Metered && c.RemoteMetered:
			m = "both ends"
		case c.Metered:
			m = "here"
		case c.RemoteMetered:
			m = "far end"
		}
		mark := ""
		if c.Bulk {
			mark = "◀ bulk"
		}
		fmt.Fprintf(tw, "  %s → %s\t%s\t%s\t%s\t%d\t%s\n", c.Local, c.RemoteAddr, m, bytesStr(c.TxRealtimeBytes),
			bytesStr(c.TxBulkBytes), c.TxSecondCopies, mark)
	}
	tw.Flush()
}

// renderFlows lists the flows the daemon sent lately, their class and path.
func renderFlows(b *strings.Builder, d *statusDoc) {
	p := d.Policy
	fmt.Fprintf(b, "policy: redundancy %s", p.Redundancy)
	if len(p.Metered) > 0 {
		fmt.Fprintf(b, "  metered %s", strings.Join(p.Metered, ","))
	}
	if len(p.Rules) > 0 {
		fmt.Fprintf(b, "  rules %s", strings.Join(p.Rules, " "))
	}
	b.WriteString("\n")
	if len(d.Flows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  FLOW\tCLASS\tPACKETS\tBYTES\tPATHS\tLAST\t")
	for _, f := range d.Flows {
		var paths []string
		for _, pc := range f.Paths {
			paths = append(paths, fmt.Sprintf("%s %s", pc.Local, bytesStr(pc.Bytes)))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t\n", f.Readable, f.Class, f.Packets, bytesStr(f.Bytes),
			strings.Join(paths, ", "), ago(f.LastMs))
	}
	tw.Flush()
}

// bytesStr renders a byte count in decimal units, as --metered-budget reads them.
func bytesStr(n uint64) string {
	switch {
	case n >= 10e9:
		return fmt.Sprintf("%.0f GB", float64(n)/1e9)
	case n >= 10e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	case n >= 10e3:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// meteredNote says a local NIC is metered, with its bytes against its
// budget.
func meteredNote(l aggregator.LocalStatus) string {
	switch {
	case !l.Metered:
		return ""
	case l.BudgetBytes == 0:
		return fmt.Sprintf("  metered, sent %s", bytesStr(l.TxBytes))
	}
	return fmt.Sprintf("  metered, sent %s of a %s budget (%.0f %%)", bytesStr(l.TxBytes), bytesStr(l.BudgetBytes),
		100*float64(l.TxBytes)/float64(l.BudgetBytes))
}
