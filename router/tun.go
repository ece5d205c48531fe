package router

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Device is a layer-3 virtual interface carrying one whole IPv4 packet per
// Read or Write. Read and Write may run concurrently with each other and with
// Close; the real TUN and FakeTUN behave the same way.
type Device interface {
	// Name returns the interface name, e.g. "pl0".
	Name() string
	// Index returns the kernel interface index.
	Index() int
	// MTU returns the interface MTU: buffers passed to Read need this many bytes.
	MTU() int
	// Read blocks until one packet is available and copies it into buf. A
	// packet longer than buf is cut to len(buf) and reported with
	// ErrPacketTruncated. After Close, Read returns net.ErrClosed itself.
	Read(buf []byte) (int, error)
	// Write hands one whole packet to the kernel as if it arrived on the
	// interface. After Close, Write returns net.ErrClosed itself.
	Write(pkt []byte) (int, error)
	// Close removes the interface and unblocks a Read in progress. Close is
	// idempotent.
	Close() error
}

// TUNConfig says which TUN to create.
type TUNConfig struct {
	// Name is the interface name, at most 15 bytes, e.g. "pl0". A name with
	// one "%d" lets the kernel pick the first free number ("pl%d" → "pl0").
	Name string
	// Prefix is the node's virtual address and prefix length, e.g.
	// 198.19.0.2/24. It is assigned to the TUN, so the kernel routes the
	// whole prefix into it.
	Prefix netip.Prefix
	// MTU is the interface MTU; the caller leaves room for the outer IPv4
	// header and the bundle header (1500 - 20 - 16 = 1464).
	MTU int
}

// MTU limits: 576 is the datagram size every IPv4 host must accept (RFC 791);
// 65535 is the largest IPv4 packet.
const (
	MinMTU = 576
	MaxMTU = 65535
)

// minTxQueueLen is the shortest transmit queue OpenTUN leaves on the TUN: a
// video key frame is a burst of a hundred packets or more, and the kernel
// must queue it while the reader goroutine is being scheduled. The kernel's
// 500 held 17 ms at 30,000 packet/s: on a busy 2-core machine the daemon
// waited longer than that for a core now and then, and every packet lost
// at that rate was a drop of this queue (TX dropped on the TUN). 4,096
// holds 100 ms at 40,000 packet/s (about 5 MB of queued packets at most);
// it fills only while the daemon cannot run.
const minTxQueueLen = 4096

const tunClonePath = "/dev/net/tun"

// ErrPacketTruncated is returned by Device.Read, together with len(buf), when
// the packet was longer than buf; the rest of that packet is lost. Pass
// buffers of at least MTU bytes.
var ErrPacketTruncated = errors.New("packet longer than the read buffer was truncated: read with a buffer of at least MTU bytes")

// ErrTUNDeleted is returned by (*TUN).Read and Write once the interface was
// deleted by someone else (e.g. `ip link del`); the TUN cannot come back, so
// the caller must Close it and open a new one.
var ErrTUNDeleted = errors.New("interface was deleted outside polylink")

// TUN is a Linux TUN interface (IFF_TUN|IFF_NO_PI): each Read returns one
// whole IPv4 packet the kernel routed into it, each Write injects one. Its
// file descriptor is non-blocking and owned by Go's poller, so a blocked Read
// parks its goroutine, not a thread, and Close wakes it.
type TUN struct {
	file   *os.File
	conn   syscall.RawConn
	reader *tunIO // Read has one caller at a time

	name         string
	index        int
	mtu          int
	curMTU       atomic.Int64 // set by SetMTU; 0 means mtu
	ipv6Disabled bool

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool // set before the file closes: RawConn's error for it is not os.ErrClosed
}

// OpenTUN creates the TUN cfg describes in the calling thread's network
// namespace: it sets the MTU, a transmit queue of at least 500 packets, turns
// IPv6 off on it (so the kernel sends no router solicitations into it),
// assigns cfg.Prefix and brings it up. On any failure nothing is left behind.
//
// The interface lives as long as the TUN is open. If a persistent TUN of that
// name already exists (ip tuntap add), OpenTUN attaches to it and it stays
// after Close.
func OpenTUN(cfg TUNConfig) (*TUN, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	fd, err := unix.Open(tunClonePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, openCloneError(err)
	}
	name, err := attachTUN(fd, cfg.Name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	// The fd must be non-blocking before os.NewFile sees it: only then does
	// the file join the poller, which makes Close unblock a pending Read.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("make TUN %s non-blocking: %w: report this as a polylink bug", name, err)
	}
	t := &TUN{file: os.NewFile(uintptr(fd), tunClonePath), name: name, mtu: cfg.MTU, reader: newTunIO()}
	if t.conn, err = t.file.SyscallConn(); err != nil {
		t.file.Close()
		return nil, fmt.Errorf("raw access to TUN %s: %w", name, err)
	}
	if err := t.configure(cfg.Prefix); err != nil {
		t.file.Close()
		return nil, err
	}
	return t, nil
}

func (c TUNConfig) validate() error {
	switch {
	case c.Name == "":
		return errors.New("TUN name is empty: give a name such as pl0")
	case len(c.Name) >= unix.IFNAMSIZ:
		return fmt.Errorf("TUN name %q is %d bytes: Linux interface names have at most %d; choose a shorter one",
			c.Name, len(c.Name), unix.IFNAMSIZ-1)
	case c.Name == "." || c.Name == ".." || strings.ContainsAny(c.Name, "/: \t\n\r\v\f"):
		return fmt.Errorf("TUN name %q is not a valid interface name: use letters, digits, '-' or '_'", c.Name)
	case !c.Prefix.IsValid():
		return errors.New("TUN prefix is missing: give the node's virtual address and prefix, e.g. 198.19.0.2/24")
	case !c.Prefix.Addr().Is4():
		return fmt.Errorf("TUN prefix %s is not IPv4: polylink carries IPv4 only; give an address such as 198.19.0.2/24", c.Prefix)
	case c.Prefix.Bits() < 8:
		return fmt.Errorf("TUN prefix %s is wider than /8 and would capture most of the routing table: use a smaller network such as /24", c.Prefix)
	case !c.Prefix.Addr().IsGlobalUnicast():
		return fmt.Errorf("TUN address %s is not a unicast host address: give one such as 198.19.0.2/24", c.Prefix.Addr())
	case c.MTU < MinMTU || c.MTU > MaxMTU:
		return fmt.Errorf("TUN MTU %d is outside %d..%d: use the path MTU minus 36 (outer IPv4 and bundle header), e.g. 1464",
			c.MTU, MinMTU, MaxMTU)
	}
	return nil
}

// attachTUN binds fd to the TUN named name (TUNSETIFF) and returns the name the
// kernel gave it, which differs from name only when name holds "%d".
func attachTUN(fd int, name string) (string, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return "", fmt.Errorf("TUN name %q: %w: choose a name of at most %d bytes", name, err, unix.IFNAMSIZ-1)
	}
	// IFF_NO_PI: no 4-byte packet-information header, so one read is exactly
	// one IP packet.
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	switch {
	case err == nil:
		return ifr.Name(), nil
	case errors.Is(err, unix.EBUSY):
		return "", fmt.Errorf("TUN %s is in use (%w): is polylink already running? stop it or choose another name", name, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return "", fmt.Errorf("create TUN %s: %w: needs root or CAP_NET_ADMIN", name, err)
	case errors.Is(err, unix.EINVAL):
		if _, lerr := netlink.LinkByName(name); lerr == nil {
			return "", fmt.Errorf("create TUN %s: %w: an interface of that name exists and is not a plain TUN; delete it or choose another name", name, err)
		}
	}
	return "", fmt.Errorf("create TUN %s: %w: check that the name is free ('ip link show %s')", name, err, name)
}

func openCloneError(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
		return fmt.Errorf("open %s: %w: this kernel has no TUN device; load it with 'modprobe tun' (in a container, pass --device /dev/net/tun)", tunClonePath, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("open %s: %w: needs root or CAP_NET_ADMIN", tunClonePath, err)
	}
	return fmt.Errorf("open %s: %w: check that it is the TUN character device (10, 200)", tunClonePath, err)
}

// configure sets up the freshly attached interface. IPv6 goes off before the
// link comes up, so the kernel never sends a router solicitation into it.
func (t *TUN) configure(prefix netip.Prefix) error {
	link, err := netlink.LinkByName(t.name)
	if err != nil {
		return fmt.Errorf("look up TUN %s: %w%s", t.name, err, netlinkHint(err))
	}
	attrs := link.Attrs()
	t.index = attrs.Index
	t.ipv6Disabled, err = disableIPv6(t.name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetMTU(link, t.mtu); err != nil {
		return fmt.Errorf("set MTU %d on TUN %s: %w%s", t.mtu, t.name, err, netlinkHint(err))
	}
	if attrs.TxQLen < minTxQueueLen {
		if err := netlink.LinkSetTxQLen(link, minTxQueueLen); err != nil {
			return fmt.Errorf("set txqueuelen %d on TUN %s: %w%s", minTxQueueLen, t.name, err, netlinkHint(err))
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{
		IP:   prefix.Addr().AsSlice(),
		Mask: net.CIDRMask(prefix.Bits(), 32),
	}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("assign %s to TUN %s: %w%s", prefix, t.name, err, netlinkHint(err))
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring TUN %s up: %w%s", t.name, err, netlinkHint(err))
	}
	return nil
}

// disableIPv6 turns IPv6 off on the interface and reports whether it did. A
// kernel without IPv6, or a read-only /proc/sys (containers), leaves it on:
// that costs only a few IPv6 packets the reader drops.
func disableIPv6(name string) (bool, error) {
	path := "/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6"
	err := os.WriteFile(path, []byte("1\n"), 0o644)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), errors.Is(err, unix.EROFS):
		return false, nil
	}
	return false, fmt.Errorf("disable IPv6 on TUN %s: %w: check that /proc/sys is mounted", name, err)
}

func netlinkHint(err error) string {
	if errors.Is(err, fs.ErrPermission) {
		return ": needs root or CAP_NET_ADMIN"
	}
	return ": check the interface with 'ip link'"
}

// Name returns the interface name the kernel gave the TUN.
func (t *TUN) Name() string { return t.name }

// Index returns the kernel interface index.
func (t *TUN) Index() int { return t.index }

// MTU returns the interface MTU: the one OpenTUN set, or SetMTU's since.
func (t *TUN) MTU() int {
	if m := t.curMTU.Load(); m > 0 {
		return int(m)
	}
	return t.mtu
}

// IPv6Disabled reports whether OpenTUN could turn IPv6 off on the interface;
// if not, the kernel may send a few IPv6 packets (router solicitations) into it.
func (t *TUN) IPv6Disabled() bool { return t.ipv6Disabled }

// Read blocks until the kernel routes one packet into the TUN and copies it
// into buf. It returns net.ErrClosed after Close, ErrPacketTruncated (with
// n == len(buf)) for a packet longer than buf, and an error wrapping
// ErrTUNDeleted once the interface was deleted from outside.
func (t *TUN) Read(buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	t.reader.buf = buf
	err := t.conn.Read(t.reader.readF)
	n, errno := t.reader.n, t.reader.errno
	t.reader.buf = nil
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return n, t.ioError("read from", err)
	}
	if n == len(buf) && truncated(buf) {
		return n, ErrPacketTruncated
	}
	return n, nil
}

// Write hands one whole IP packet to the kernel as if it arrived on the TUN.
// It returns net.ErrClosed after Close.
func (t *TUN) Write(pkt []byte) (int, error) {
	if len(pkt) == 0 {
		return 0, t.ioError("write to", unix.EINVAL)
	}
	w := tunWriters.Get().(*tunIO)
	w.buf = pkt
	err := t.conn.Write(w.writeF)
	n, errno := w.n, w.errno
	w.buf = nil
	tunWriters.Put(w)
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return n, t.ioError("write to", err)
	}
	return n, nil
}

// SetReadDeadline makes a pending and future Read return an error wrapping
// os.ErrDeadlineExceeded at time d; the zero time clears it.
func (t *TUN) SetReadDeadline(d time.Time) error {
	if err := t.file.SetReadDeadline(d); err != nil {
		return t.ioError("set read deadline on", err)
	}
	return nil
}

// Close closes the TUN file descriptor: the kernel deletes the interface with
// its address and routes, and a pending Read returns net.ErrClosed. Close is
// idempotent and returns the first call's result.
func (t *TUN) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		if err := t.file.Close(); err != nil {
			t.closeErr = fmt.Errorf("close TUN %s: %w: the interface may linger; delete it with 'ip link del %s'", t.name, err, t.name)
		}
	})
	return t.closeErr
}

// ioError maps what os.File reports to the Device contract.
func (t *TUN) ioError(op string, err error) error {
	switch {
	case t.closed.Load() || errors.Is(err, os.ErrClosed):
		return net.ErrClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		return err
	case errors.Is(err, unix.EBADFD):
		return fmt.Errorf("%s TUN %s: %w: close it and open it again (restart polylink)", op, t.name, ErrTUNDeleted)
	case errors.Is(err, unix.EIO):
		return fmt.Errorf("%s TUN %s: %w: the interface is down; bring it up with 'ip link set %s up'", op, t.name, err, t.name)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("%s TUN %s: %w: the packet is empty or neither IPv4 nor IPv6", op, t.name, err)
	}
	return fmt.Errorf("%s TUN %s: %w", op, t.name, err)
}

// truncated reports whether a read that filled all of buf cut an IPv4 packet
// short: the kernel silently drops the part that did not fit.
func truncated(buf []byte) bool {
	if len(buf) < 4 || buf[0]>>4 != 4 {
		return false
	}
	return int(buf[2])<<8|int(buf[3]) > len(buf)
}
