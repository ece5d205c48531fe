// Command floor-relay-go is scripts/floor-relay.c on Go's runtime: the same
// least-work relay (a copy of each TUN packet to every peer over one raw
// IP-in-IP socket, keep the first peer's copies), but with non-blocking
// descriptors on Go's poller and GOMAXPROCS=1, as polylink runs. Beside
// the C relay it shows what the Go runtime itself adds per packet
// (scripts/compare-relays.sh).
//
// usage: floor-relay-go TUN PEER [PEER]   (the TUN is created; address it after)
package main

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "floor-relay-go:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 || len(args) > 3 {
		return fmt.Errorf("usage: floor-relay-go TUN PEER [PEER]")
	}
	runtime.GOMAXPROCS(1)
	var peers []unix.RawSockaddrInet4
	for _, a := range args[1:] {
		p, err := netip.ParseAddr(a)
		if err != nil || !p.Is4() {
			return fmt.Errorf("bad peer address %q", a)
		}
		peers = append(peers, unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: p.As4()})
	}
	tun, err := openTUN(args[0])
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK, unix.IPPROTO_IPIP)
	if err != nil {
		return fmt.Errorf("raw socket: %w", err)
	}
	raw, err := os.NewFile(uintptr(fd), "raw").SyscallConn()
	if err != nil {
		return err
	}
	go peersToTUN(raw, tun, peers[0].Addr)
	tunToPeers(tun, raw, peers)
	return nil
}

func openTUN(name string) (syscall.RawConn, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return nil, fmt.Errorf("create TUN %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "tun").SyscallConn()
}

// readOne reads one packet (read or recv, by trap) through the poller.
func readOne(c syscall.RawConn, trap uintptr, b []byte) int {
	n := -1
	err := c.Read(func(fd uintptr) bool {
		r, _, errno := unix.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
		if errno == unix.EAGAIN {
			return false
		}
		if errno == 0 {
			n = int(r)
		}
		return true
	})
	if err != nil {
		os.Exit(0) // closed: the process is being torn down
	}
	return n
}

func tunToPeers(tun, raw syscall.RawConn, peers []unix.RawSockaddrInet4) {
	b := make([]byte, 2048)
	for {
		n := readOne(tun, unix.SYS_READ, b)
		if n <= 0 {
			continue
		}
		raw.Write(func(fd uintptr) bool {
			for i := range peers {
				unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(n), 0,
					uintptr(unsafe.Pointer(&peers[i])), unsafe.Sizeof(peers[i]))
			}
			return true
		})
	}
}

func peersToTUN(raw, tun syscall.RawConn, first [4]byte) {
	b := make([]byte, 2048)
	for {
		n := readOne(raw, unix.SYS_RECVFROM, b)
		if n <= 20 || [4]byte(b[12:16]) != first {
			continue // runt, or the copy from the second peer
		}
		hl := int(b[0]&15) * 4
		if n <= hl {
			continue
		}
		tun.Write(func(fd uintptr) bool {
			unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[hl])), uintptr(n-hl))
			return true
		})
	}
}
