package linkmon

import "fmt"

// EventKind says how the usable NIC set changed.
type EventKind uint8

const (
	// Added: a NIC became usable; Event.Socket is its new socket.
	Added EventKind = iota + 1
	// Changed: a usable NIC changed name, addresses or MTU. If its chosen
	// address changed, Event.Socket is a new socket bound to the new address
	// and the previous one is already closed; otherwise Event.Socket is the
	// same socket as before.
	Changed
	// Removed: a NIC stopped being usable (down, no usable address left,
	// deleted, excluded); its sockets in the Event are already closed.
	Removed
)

// String returns "added", "changed" or "removed".
func (k EventKind) String() string {
	switch k {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	default:
		return fmt.Sprintf("EventKind(%d)", uint8(k))
	}
}

// Event is one change of the usable NIC set. On Added and Changed, Socket is
// the NIC's current socket; on Changed with a new chosen address the old
// socket has been closed; on Removed, Socket is the NIC's socket, closed
// before the event is sent.
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// NIC is the NIC as it is now; on Removed, as it was last seen usable.
	NIC NIC
	// Socket is the NIC's raw IP-in-IP socket; see Kind. Nil on a NIC
	// without IPv4.
	Socket *Socket
	// UDP4 and UDP6 are the NIC's UDP sockets, one per address family it
	// has, when the monitor has a UDP port (nil otherwise). Like Socket,
	// each is the same pointer as before on a Changed event that kept its
	// address, a new one when its address changed.
	UDP4, UDP6 *UDPSocket
}

// String returns "kind nic", for logs and test failures.
func (e Event) String() string {
	return e.Kind.String() + " " + e.NIC.String()
}
