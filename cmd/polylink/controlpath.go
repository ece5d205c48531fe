package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// controlDir holds the default control sockets. Every network namespace
// shares the file system, so a namespace other than the initial one gets
// its own subdirectory, named by the namespace's inode: daemons in two
// namespaces never collide on /run/polylink/pl0.sock, and `status` inside
// a namespace finds that namespace's daemon.
const controlDir = "/run/polylink"

// defaultControlPath is the control socket of the daemon on TUN tun in this
// process's network namespace.
func defaultControlPath(tun string) string {
	self := netnsInode("/proc/self/ns/net")
	return filepath.Join(controlDirFor(self, inOtherNetns(self)), tun+".sock")
}

// controlDirFor is the default socket directory for a process in network
// namespace self (an inode; 0 if unknown), other saying whether that is not
// the initial namespace.
func controlDirFor(self uint64, other bool) string {
	if self == 0 || !other {
		return controlDir
	}
	return filepath.Join(controlDir, fmt.Sprintf("netns-%d", self))
}

// inOtherNetns reports whether the namespace self is not the initial one:
// not PID 1's, or, where PID 1 may not be looked at (an unprivileged
// daemon, some containers), one of the namespaces `ip netns` names. An
// unnamed namespace of a process that may not look at PID 1 counts as the
// initial one; status's namespace check still tells a mismatch there.
func inOtherNetns(self uint64) bool {
	if init := netnsInode("/proc/1/ns/net"); init != 0 {
		return self != init
	}
	named, _ := os.ReadDir("/run/netns")
	for _, e := range named {
		if netnsInode(filepath.Join("/run/netns", e.Name())) == self {
			return true
		}
	}
	return false
}

// isDefaultControlDir reports whether dir is one defaultControlPath makes,
// the only directories the daemon creates itself.
func isDefaultControlDir(dir string) bool {
	return dir == controlDir || filepath.Dir(dir) == controlDir && strings.HasPrefix(filepath.Base(dir), "netns-")
}

// netnsInode is the inode of the network namespace file at path, 0 if it
// cannot be read.
func netnsInode(path string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	return st.Ino
}

// checkControlDir refuses an explicit --control whose directory does not
// exist: the daemon creates only its default directory, never a path a
// typo made up.
func checkControlDir(path string) error {
	dir := filepath.Dir(path)
	if isDefaultControlDir(dir) {
		return nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usagef("run: --control %s: directory %s does not exist; create it or pick another path", path, dir)
	}
	return nil
}
