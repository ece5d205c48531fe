package linkmon

import (
	"errors"
	"os"

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
// A NIC whose socket cannot be opened is left out of the set, a retry is
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
			e.sock.Close()
			ev.Socket = e.sock
			m.log.Info("NIC removed", nicFields(e.nic)...)
		case Changed:
			e := m.current[idx]
			if ev.NIC.Addr == e.nic.Addr {
				e.sock.setNIC(ev.NIC)
				m.current[idx] = entry{nic: ev.NIC, sock: e.sock}
				ev.Socket = e.sock
				m.log.Info("NIC changed", nicFields(ev.NIC)...)
				break
			}
			e.sock.Close()
			sock, err := m.open(ev.NIC)
			if err != nil {
				delete(m.current, idx)
				openErrs = append(openErrs, err)
				m.logOpenFailure(ev.NIC, err)
				ev = Event{Kind: Removed, NIC: e.nic, Socket: e.sock}
				break
			}
			m.current[idx] = entry{nic: ev.NIC, sock: sock}
			ev.Socket = sock
			m.log.Info("NIC changed address; socket rebound",
				append(nicFields(ev.NIC), zap.Stringer("old_addr", e.nic.Addr))...)
		case Added:
			sock, err := m.open(ev.NIC)
			if err != nil {
				openErrs = append(openErrs, err)
				m.logOpenFailure(ev.NIC, err)
				continue
			}
			m.current[idx] = entry{nic: ev.NIC, sock: sock}
			ev.Socket = sock
			m.log.Info("NIC added", nicFields(ev.NIC)...)
		}
		events = append(events, ev)
	}
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

// open opens nic's socket inside the monitored namespace.
func (m *Monitor) open(nic NIC) (*Socket, error) {
	var s *Socket
	err := do(m.ns, func() error {
		var err error
		s, err = OpenSocket(nic)
		return err
	})
	return s, err
}
