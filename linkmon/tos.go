package linkmon

import (
	"fmt"
	"net/netip"
)

// WriteToTOS sends payload to dst like WriteTo, the outer IPv4 header
// carrying tos (DSCP and ECN: see tosControl), so Wi-Fi WMM and carrier
// QoS see the inner packet's marking.
func (s *Socket) WriteToTOS(payload []byte, dst netip.Addr, tos uint8) error {
	b, err := s.tosBatch(payload, dst, tos)
	if err != nil {
		return err
	}
	defer putCtlBatch(b)
	if _, err := b.send(s.conn, 1); err != nil {
		return s.ioError("write", err)
	}
	return nil
}

// TryWriteToTOS is TryWriteTo with the outer TOS of WriteToTOS.
func (s *Socket) TryWriteToTOS(payload []byte, dst netip.Addr, tos uint8) (sent bool, err error) {
	b, err := s.tosBatch(payload, dst, tos)
	if err != nil {
		return false, err
	}
	defer putCtlBatch(b)
	if sent, err = b.trySend(s.conn); err != nil {
		return sent, s.ioError("write", err)
	}
	return sent, nil
}

// tosBatch prepares a pooled batch sending payload to dst with tos.
func (s *Socket) tosBatch(payload []byte, dst netip.Addr, tos uint8) (*ctlBatch, error) {
	dst = dst.Unmap()
	if !dst.Is4() {
		return nil, fmt.Errorf("write on %s: destination %v is not IPv4", s.nic.Load().Name, dst)
	}
	b := getCtlBatch()
	b.setSendTo(0, payload, netip.AddrPortFrom(dst, 0), tos)
	return b, nil
}
