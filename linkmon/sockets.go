package linkmon

import (
	"errors"
	"net/netip"
)

// nicSockets is what a Monitor keeps open for one usable NIC: the raw
// IP-in-IP socket on its IPv4 address and, when the monitor has a UDP port,
// a UDP socket per address family the NIC has.
type nicSockets struct {
	raw  *Socket    // nil on a NIC without IPv4
	udp4 *UDPSocket // nil without a UDP port or without IPv4
	udp6 *UDPSocket // nil without a UDP port or without a usable IPv6 address
}

// closeAll closes every socket; they are closed when it returns.
func (s nicSockets) closeAll() error {
	var errs []error
	if s.raw != nil {
		errs = append(errs, s.raw.Close())
	}
	if s.udp4 != nil {
		errs = append(errs, s.udp4.Close())
	}
	if s.udp6 != nil {
		errs = append(errs, s.udp6.Close())
	}
	return errors.Join(errs...)
}

// setNIC tells every socket its NIC's new name, MTU and routes.
func (s nicSockets) setNIC(nic NIC) {
	if s.raw != nil {
		s.raw.setNIC(nic)
	}
	if s.udp4 != nil {
		s.udp4.setNIC(nic)
	}
	if s.udp6 != nil {
		s.udp6.setNIC(nic)
	}
}

// fill puts the sockets into ev.
func (s nicSockets) fill(ev *Event) {
	ev.Socket, ev.UDP4, ev.UDP6 = s.raw, s.udp4, s.udp6
}

// openSockets gives next its sockets: those of have (opened for prev) whose
// address did not change are kept, the others closed and opened anew. On
// failure everything is closed, the sockets of have included, and the
// error returned: the NIC is then dropped until a retry succeeds.
func (m *Monitor) openSockets(prev, next NIC, have nicSockets) (nicSockets, error) {
	var out nicSockets
	var err error
	if have.raw != nil && prev.Addr == next.Addr {
		out.raw = have.raw
	} else {
		if have.raw != nil {
			have.raw.Close()
		}
		if next.Addr.IsValid() {
			out.raw, err = m.openRaw(next)
		}
	}
	out.udp4, err = m.keepOrOpenUDP(prev.Addr, next, next.Addr, have.udp4, err)
	out.udp6, err = m.keepOrOpenUDP(prev.Addr6, next, next.Addr6, have.udp6, err)
	if err != nil {
		out.closeAll()
		return nicSockets{}, err
	}
	out.setNIC(next)
	return out, nil
}

// keepOrOpenUDP keeps s if it is bound to addr already, else closes it and,
// unless an earlier step failed (prevErr) or UDP is off, opens one on addr.
func (m *Monitor) keepOrOpenUDP(was netip.Addr, nic NIC, addr netip.Addr, s *UDPSocket, prevErr error) (*UDPSocket, error) {
	if s != nil && was == addr {
		return s, prevErr
	}
	if s != nil {
		s.Close()
	}
	if prevErr != nil || m.udpPort == 0 || !addr.IsValid() {
		return nil, prevErr
	}
	var u *UDPSocket
	err := do(m.ns, func() error {
		var err error
		u, err = OpenUDPSocket(nic, netip.AddrPortFrom(addr, m.udpPort))
		return err
	})
	return u, errors.Join(prevErr, err)
}

// openRaw opens nic's raw socket inside the monitored namespace.
func (m *Monitor) openRaw(nic NIC) (*Socket, error) {
	var s *Socket
	err := do(m.ns, func() error {
		var err error
		s, err = OpenSocket(nic)
		return err
	})
	return s, err
}
