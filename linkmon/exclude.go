package linkmon

import "slices"

// SetExclude replaces the exclude patterns (see Config.Exclude) of a
// running monitor. The namespace is re-read at once: NICs the new patterns
// exclude are reported Removed, NICs they no longer exclude Added, and the
// others keep their sockets untouched, so traffic on them goes on.
func (m *Monitor) SetExclude(patterns []string) error {
	if err := validatePatterns(patterns); err != nil {
		return err
	}
	m.exclude.Store(new(slices.Clone(patterns)))
	select {
	case m.trigger <- struct{}{}:
	default: // a re-read is already pending; it loads the new patterns
	}
	return nil
}
