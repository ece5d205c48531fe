package linkmon

import (
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// subscriptionBuffer is the receive buffer of the netlink subscription. Big
// enough that a burst of a few thousand changes rarely overruns it; when one
// does, the kernel reports ENOBUFS and the monitor resyncs from a dump.
const subscriptionBuffer = 2 << 20

// subscription is a netlink socket joined to the link, address (IPv4 and
// IPv6) and route (IPv4 and IPv6) groups. Its reader turns every batch of messages into a pending trigger
// (their content does not matter: the monitor re-reads the whole state) and
// reports the error that ended it on failed.
type subscription struct {
	sock   *nl.NetlinkSocket
	failed chan error    // one slot: the error that stopped the reader
	done   chan struct{} // closed when the reader has returned
}

// subscribe opens a subscription inside ns whose reader signals trigger.
// rcvbuf 0 means subscriptionBuffer.
func subscribe(ns netns.NsHandle, rcvbuf int, trigger chan<- struct{}) (*subscription, error) {
	var sock *nl.NetlinkSocket
	err := do(ns, func() error {
		var err error
		sock, err = nl.Subscribe(unix.NETLINK_ROUTE, unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR,
			unix.RTNLGRP_IPV6_IFADDR, unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to netlink link, address and route changes: %w", err)
	}
	if rcvbuf == 0 {
		rcvbuf = subscriptionBuffer
	}
	// FORCE needs CAP_NET_ADMIN; without it the size is capped by rmem_max,
	// which only makes overruns (and resyncs) likelier.
	if err := sock.SetReceiveBufferSize(rcvbuf, true); err != nil {
		_ = sock.SetReceiveBufferSize(rcvbuf, false)
	}
	s := &subscription{sock: sock, failed: make(chan error, 1), done: make(chan struct{})}
	go s.read(trigger)
	return s, nil
}

// read is the subscription's reader goroutine. It never blocks on anything
// but the socket, so the kernel's queue drains as fast as messages come.
func (s *subscription) read(trigger chan<- struct{}) {
	defer close(s.done)
	for {
		msgs, _, err := s.sock.Receive()
		if err != nil {
			s.failed <- err
			return
		}
		if len(msgs) > 0 {
			select {
			case trigger <- struct{}{}:
			default: // a re-read is already pending; it will see this change too
			}
		}
	}
}

// close closes the socket and waits for the reader to return.
func (s *subscription) close() {
	s.sock.Close()
	<-s.done
}
