package linkmon

import (
	"maps"
	"slices"
)

// diff returns the events that turn the usable set old into next: every
// Removed first, then Changed, then Added, each in index order, so a consumer
// frees before it allocates. The events carry no socket; the monitor attaches
// one when it applies them.
func diff(old, next map[int]NIC) []Event {
	var removed, changed, added []Event
	for _, idx := range slices.Sorted(maps.Keys(old)) {
		if _, ok := next[idx]; !ok {
			removed = append(removed, Event{Kind: Removed, NIC: old[idx].clone()})
		}
	}
	for _, idx := range slices.Sorted(maps.Keys(next)) {
		n := next[idx]
		o, ok := old[idx]
		switch {
		case !ok:
			added = append(added, Event{Kind: Added, NIC: n.clone()})
		case !o.equal(n):
			changed = append(changed, Event{Kind: Changed, NIC: n.clone()})
		}
	}
	return slices.Concat(removed, changed, added)
}
