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
	// Removed: a NIC stopped being usable (down, no IPv4 address left,
	// deleted, excluded); Event.Socket is its socket, already closed.
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
	// Socket is the NIC's socket; see Kind.
	Socket *Socket
}

// String returns "kind nic", for logs and test failures.
func (e Event) String() string {
	return e.Kind.String() + " " + e.NIC.String()
}
