package stream

import (
	"fmt"
	"strconv"
	"strings"
)

// Table renders results side by side as plain text, one column per system,
// one row per measure, units in the row labels. Rows for send errors appear
// when a result has any; one "lost in <window>" row per window of the first
// result follows. Three or four systems fit an 80-column terminal.
func Table(results []Result) string {
	if len(results) == 0 {
		return ""
	}
	rows := tableRows(results)
	labelWidth := 0
	for _, r := range rows {
		labelWidth = max(labelWidth, len(r.label))
	}
	widths := make([]int, len(results))
	for i, res := range results {
		widths[i] = len(res.Name)
		for _, r := range rows {
			widths[i] = max(widths[i], len(r.cells[i]))
		}
	}

	var b strings.Builder
	line := func(label string, cells []string) {
		b.WriteString(fmt.Sprintf("%-*s", labelWidth, label))
		for i, c := range cells {
			b.WriteString(fmt.Sprintf("  %*s", widths[i], c))
		}
		b.WriteString("\n")
	}
	names := make([]string, len(results))
	rules := make([]string, len(results))
	for i, res := range results {
		names[i] = res.Name
		rules[i] = strings.Repeat("-", widths[i])
	}
	line("", names)
	line(strings.Repeat("-", labelWidth), rules)
	for _, r := range rows {
		line(r.label, r.cells)
	}
	return b.String()
}

type tableRow struct {
	label string
	cells []string
}

func tableRows(results []Result) []tableRow {
	row := func(label string, cell func(Result) string) tableRow {
		cells := make([]string, len(results))
		for i, r := range results {
			cells[i] = cell(r)
		}
		return tableRow{label, cells}
	}
	latency := func(pick func(Latency) float64) func(Result) string {
		return func(r Result) string {
			if r.Received == 0 {
				return "-"
			}
			return strconv.FormatFloat(pick(r.Latency), 'f', 2, 64)
		}
	}
	count := func(pick func(Result) uint64) func(Result) string {
		return func(r Result) string { return strconv.FormatUint(pick(r), 10) }
	}

	rows := []tableRow{
		row("sent (packets)", count(func(r Result) uint64 { return r.Sent })),
		row("lost (packets, %)", func(r Result) string { return countAndShare(r.Lost, r.LossRatio) }),
		row(fmt.Sprintf("lost or late >%g ms", results[0].DeadlineMS),
			func(r Result) string { return countAndShare(r.LostOrLate, r.LostOrLateRatio) }),
		row("latency p50 (ms)", latency(func(l Latency) float64 { return l.P50 })),
		row("latency p99 (ms)", latency(func(l Latency) float64 { return l.P99 })),
		row("latency max (ms)", latency(func(l Latency) float64 { return l.Max })),
		row("jitter RFC 3550 (ms)", func(r Result) string { return strconv.FormatFloat(r.JitterMS, 'f', 2, 64) }),
		row("longest loss burst (packets)", count(func(r Result) uint64 { return r.LongestLossBurst })),
		row("duplicates (packets)", count(func(r Result) uint64 { return r.Duplicates })),
		row("reordered (packets)", count(func(r Result) uint64 { return r.Reordered })),
	}
	for _, r := range results {
		if r.SendErrors > 0 {
			rows = append(rows, row("send errors (packets)", count(func(r Result) uint64 { return r.SendErrors })))
			break
		}
	}
	for wi, w := range results[0].Windows {
		rows = append(rows, row("lost in "+w.Label, func(r Result) string {
			if wi >= len(r.Windows) || r.Windows[wi].Label != w.Label {
				return "-"
			}
			return countAndShare(r.Windows[wi].Lost, r.Windows[wi].LossRatio)
		}))
	}
	return rows
}

// countAndShare formats "12 (0.40%)": exact zero and whole loss read "0%"
// and "100%", and a share too small for two decimals is not shown as zero.
func countAndShare(n uint64, share float64) string {
	return fmt.Sprintf("%d (%s)", n, percent(share))
}

func percent(share float64) string {
	switch {
	case share == 0:
		return "0%"
	case share == 1:
		return "100%"
	case share < 0.0001:
		return "<0.01%"
	default:
		return strconv.FormatFloat(100*share, 'f', 2, 64) + "%"
	}
}
