package linkemu

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ifreqData is struct ifreq with its union as the ifr_data pointer.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// offloadsOff are the legacy ethtool set commands DisableOffloads sends,
// in order: checksum first, since segmentation offloads depend on it.
var offloadsOff = []struct {
	name string
	cmd  uint32
}{
	{"tx-checksumming", unix.ETHTOOL_STXCSUM},
	{"scatter-gather", unix.ETHTOOL_SSG},
	{"tcp-segmentation-offload", unix.ETHTOOL_STSO},
	{"generic-segmentation-offload", unix.ETHTOOL_SGSO},
	{"generic-receive-offload", unix.ETHTOOL_SGRO},
}

// DisableOffloads turns off transmit checksum offload, scatter-gather, TSO,
// GSO and GRO on the interface ifname of the calling thread's namespace,
// like `ethtool -K IF tx off sg off tso off gso off gro off` without the
// ethtool binary. A veth end that sends into a bridge needs it: with the
// offloads on, its frames carry unfinished checksums (or are 64 KiB
// super-frames) that the receiver drops once a packet socket re-injects them.
func DisableOffloads(ifname string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("disable offloads on %s: socket: %w", ifname, err)
	}
	defer unix.Close(fd)
	for _, o := range offloadsOff {
		if err := ethtool(fd, ifname, &ethtoolValue{cmd: o.cmd}); err != nil {
			return fmt.Errorf("disable %s on %s: %w", o.name, ifname, err)
		}
	}
	v := ethtoolValue{cmd: unix.ETHTOOL_GTXCSUM}
	if err := ethtool(fd, ifname, &v); err != nil {
		return fmt.Errorf("read tx-checksumming of %s: %w", ifname, err)
	}
	if v.data != 0 {
		return fmt.Errorf("tx-checksumming of %s still on after turning it off", ifname)
	}
	return nil
}

func ethtool(fd int, ifname string, v *ethtoolValue) error {
	var ifr ifreqData
	if len(ifname) >= len(ifr.name) {
		return fmt.Errorf("interface name %q too long", ifname)
	}
	copy(ifr.name[:], ifname)
	ifr.data = unsafe.Pointer(v)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if e != 0 {
		return e
	}
	return nil
}
