package linkmon

import (
	"errors"
	"os"
	"slices"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// applyInitial applies the first dump for New. A permission error fails New:
// the process cannot open raw sockets at all. Any other failure leaves the
// NIC to the retry timer.
func (m *Monitor) applyInitial(want map[int]NIC) ([]Event, error) {
	events, err := m.apply(want)
	if errors.Is(err, os.ErrPermission) {
		return nil, err
	}
	return events, nil
}

// apply makes the open sockets match want and returns the events to send.
// A NIC whose sockets cannot be opened is left out of the set, a retry is
// armed, and the open errors are returned joined.
func (m *Monitor) apply(want map[int]NIC) (events []Event, openErr error) {
	have := make(map[int]NIC, len(m.current))
	for idx, e := range m.current {
		have[idx] = e.nic
	}
	var openErrs []error
	for _, ev := range diff(have, want) {
		idx := ev.NIC.Index
		switch ev.Kind {
		case Removed:
			e := m.current[idx]
			delete(m.current, idx)
			e.socks.closeAll()
			e.socks.fill(&ev)
			m.log.Info("NIC removed", nicFields(e.nic)...)
		case Changed:
			e := m.current[idx]
			socks, err := m.openSockets(e.nic, ev.NIC, e.socks)
			if err != nil {
				delete(m.current, idx)
				openErrs = append(openErrs, err)
				m.logOpenFailure(ev.NIC, err)
				ev = Event{Kind: Removed, NIC: e.nic}
				e.socks.fill(&ev)
				break
			}
			m.current[idx] = entry{nic: ev.NIC, socks: socks}
			socks.fill(&ev)
			if e.nic.Addr == ev.NIC.Addr && e.nic.Addr6 == ev.NIC.Addr6 {
				m.log.Info("NIC changed", nicFields(ev.NIC)...)
				break
			}
			m.log.Info("NIC changed address; sockets rebound",
				append(nicFields(ev.NIC), zap.Stringer("old_addr", e.nic.Addr), zap.Stringer("old_addr6", e.nic.Addr6))...)
		case Added:
			socks, err := m.openSockets(NIC{}, ev.NIC, nicSockets{})
			if err != nil {
				openErrs = append(openErrs, err)
				m.logOpenFailure(ev.NIC, err)
				continue
			}
			m.current[idx] = entry{nic: ev.NIC, socks: socks}
			socks.fill(&ev)
			m.log.Info("NIC added", nicFields(ev.NIC)...)
		}
		events = append(events, ev)
	}
	m.updateRoutes(want)
	if len(openErrs) > 0 {
		m.armRetry()
	}
	m.publish()
	return events, errors.Join(openErrs...)
}

// logOpenFailure logs a socket that could not be opened. An address or
// device that vanished since the dump is routine churn (the message that
// reports it is already queued and triggers the next read), so it is not
// worth an operator's attention; anything else is.
func (m *Monitor) logOpenFailure(nic NIC, err error) {
	fields := append(nicFields(nic), zap.Error(err))
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) {
		m.log.Debug("NIC changed while its socket was opened; re-reading", fields...)
		return
	}
	m.log.Warn("open socket failed; NIC unused until a retry succeeds", fields...)
}

// updateRoutes records route changes that came without any other change:
// they need no event (the sockets stay as they are), only the NIC that
// NICs() and the sockets report.
func (m *Monitor) updateRoutes(want map[int]NIC) {
	for idx, e := range m.current {
		n, ok := want[idx]
		if !ok || slices.Equal(e.nic.Routes, n.Routes) {
			continue
		}
		e.nic.Routes = slices.Clone(n.Routes)
		m.current[idx] = e
		e.socks.setNIC(e.nic)
	}
}
