package linkmon

// Batches with addresses and control messages: what UDP sockets need on
// both sides (the source address and port of every packet received; the
// destination and the outer DSCP of every packet sent), and what raw
// sockets need to set the outer DSCP per packet.
//
//	recv: hdrs[i].Name ─▶ names[i] (sockaddr_in or sockaddr_in6) ─▶ netip.AddrPort
//	send: netip.AddrPort, tos ─▶ names[i], oob[i] (IP_TOS or IPV6_TCLASS cmsg) ─▶ sendmmsg

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tosSpace is the room of one IP_TOS or IPV6_TCLASS control message (an
// int, as both options take).
var tosSpace = unix.CmsgSpace(4)

// ctlBatch is a batch whose messages carry full socket addresses and one
// control message each. It reuses batch's system-call loops: only where
// the message headers point differs. One goroutine uses it at a time.
type ctlBatch struct {
	*batch
	// oob comes first, right after a pointer, so each control message
	// starts 8-byte aligned as struct cmsghdr needs.
	oob   [maxBatch][32]byte
	names [maxBatch]unix.RawSockaddrInet6 // large enough for either family
}

var ctlBatchPool = sync.Pool{New: func() any { return newCtlBatch() }}

func getCtlBatch() *ctlBatch { return ctlBatchPool.Get().(*ctlBatch) }
func putCtlBatch(b *ctlBatch) {
	b.forget()
	ctlBatchPool.Put(b)
}

func newCtlBatch() *ctlBatch { return &ctlBatch{batch: newBatch()} }

// setRecvFrom points message i at buf and asks for the source address and
// the control messages (the outer TOS: IP_RECVTOS, IPV6_RECVTCLASS).
func (b *ctlBatch) setRecvFrom(i int, buf []byte) {
	b.setRecv(i, buf)
	h := &b.hdrs[i].Hdr
	h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	h.Namelen = unix.SizeofSockaddrInet6
	h.Control = &b.oob[i][0]
	h.SetControllen(len(b.oob[i]))
}

// receivedTOS returns the outer TOS or traffic class of message i after a
// recv, from its IP_TOS (one byte) or IPV6_TCLASS (an int) control
// message; 0 if it has none.
func (b *ctlBatch) receivedTOS(i int) uint8 {
	oob := b.oob[i][:min(int(b.hdrs[i].Hdr.Controllen), len(b.oob[i]))]
	for len(oob) >= unix.CmsgLen(0) {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		n := int(h.Len)
		if n < unix.CmsgLen(0) || n > len(oob) {
			return 0
		}
		data := oob[unix.CmsgLen(0):n]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS && len(data) >= 1:
			return data[0]
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS && len(data) >= 4:
			return uint8(binary.NativeEndian.Uint32(data))
		}
		oob = oob[min(unix.CmsgSpace(n-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}

// source returns message i's source address after a recv; false if the
// kernel gave none it can parse (never for UDP).
func (b *ctlBatch) source(i int) (netip.AddrPort, bool) {
	return parseSockaddr(&b.names[i], int(b.hdrs[i].Hdr.Namelen))
}

// setSendTo points message i at payload, addressed to dst, with the outer
// TOS or traffic class tos (see tosControl).
func (b *ctlBatch) setSendTo(i int, payload []byte, dst netip.AddrPort, tos uint8) {
	b.iovs[i].Base = unsafe.SliceData(payload)
	b.iovs[i].SetLen(len(payload))
	h := &b.hdrs[i]
	h.Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	h.Hdr.Namelen = putSockaddr(&b.names[i], dst)
	n := tosControl(b.oob[i][:], h.Hdr.Namelen == unix.SizeofSockaddrInet6, tos)
	h.Hdr.Control = &b.oob[i][0]
	h.Hdr.SetControllen(n)
	h.Hdr.Flags, h.Len = 0, 0
}

// trySend sends message 0 without waiting for the poller: sent is false,
// with a nil error, when the socket is full.
func (b *batch) trySend(conn syscall.RawConn) (sent bool, err error) {
	b.count, b.done, b.errno, b.wouldBlock = 1, 0, 0, false
	if err := conn.Control(b.trySendF); err != nil {
		return false, err
	}
	if b.wouldBlock {
		return false, nil
	}
	if b.errno != 0 {
		return true, b.errno
	}
	return true, nil
}

// writeChunks sends msgs through b, maxBatch per sendmmsg: set prepares
// message i of the batch from m, or refuses it. It returns how many were
// sent, fewer than len(msgs) only with an error, which concerns msgs[n]:
// the caller may skip that one and send the rest.
func writeChunks[M any](b *batch, conn syscall.RawConn, msgs []M, set func(i int, m *M) error,
	ioError func(op string, err error) error) (int, error) {
	sent := 0
	for sent < len(msgs) {
		chunk := msgs[sent:min(len(msgs), sent+maxBatch)]
		for i := range chunk {
			if err := set(i, &chunk[i]); err != nil {
				if i == 0 {
					return sent, err
				}
				chunk = chunk[:i] // send what precedes it; the next round reports it
				break
			}
		}
		n, err := b.send(conn, len(chunk))
		sent += n
		if err != nil {
			return sent, ioError("write batch", err)
		}
	}
	return sent, nil
}

// forget drops the pointers into callers' buffers and the control
// pointers, so a pooled batch keeps nothing alive and a reused one sends
// no stale control message.
func (b *ctlBatch) forget() {
	for i := range b.hdrs[:max(b.count, 1)] {
		b.hdrs[i].Hdr.Control = nil
		b.hdrs[i].Hdr.SetControllen(0)
	}
	b.batch.forget()
}

// tosControl writes an IP_TOS (IPv4) or IPV6_TCLASS (IPv6) control message
// into oob and returns its length. The whole byte is copied, DSCP and ECN
// (RFC 6040's normal mode: the outer ECN field is the inner one's), so an
// ECN-capable inner packet can be marked instead of dropped on a congested
// path; the receiving engine carries a CE mark back into the inner header.
func tosControl(oob []byte, v6 bool, tos uint8) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	if v6 {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
	} else {
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TOS
	}
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], uint32(tos))
	return tosSpace
}

// putSockaddr writes dst into sa as sockaddr_in or sockaddr_in6 and
// returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, dst netip.AddrPort) uint32 {
	port := dst.Port()
	if a := dst.Addr().Unmap(); a.Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], port)
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.Addr().As16()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], port)
	return unix.SizeofSockaddrInet6
}

// parseSockaddr reads a sockaddr_in or sockaddr_in6 of length n.
func parseSockaddr(sa *unix.RawSockaddrInet6, n int) (netip.AddrPort, bool) {
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), true
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port), true
	}
	return netip.AddrPort{}, false
}

// setDontFragment makes the kernel set DF on every packet the socket sends
// (IPv4) or never fragment it (IPv6), and refuse with EMSGSIZE what exceeds
// the path MTU it knows: a fragmented copy is lost whole when one fragment
// is, and carrier NATs often drop fragments outright.
func setDontFragment(fd int, v6 bool) error {
	if !v6 {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1)
}
