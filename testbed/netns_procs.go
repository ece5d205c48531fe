package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// netnsProcess is a process whose network namespace is one of the testbed's.
type netnsProcess struct {
	id   procID
	comm string // its command name, as /proc/PID/comm says
}

// processesIn lists the processes whose network namespace is the named one
// (as `ip netns pids` does): a namespace stays alive after `ip netns del`
// while any of them runs, with its links, so Down must see them first.
func processesIn(name string) ([]netnsProcess, error) {
	var ns syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", name), &ns); err != nil {
		return nil, nil // no such namespace: nothing runs in it
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var ps []netnsProcess
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", d.Name(), "ns/net"), &st) != nil || st.Ino != ns.Ino || st.Dev != ns.Dev {
			continue
		}
		id, err := identify(pid)
		if err != nil {
			continue // gone meanwhile, or a zombie
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
		ps = append(ps, netnsProcess{id: id, comm: strings.TrimSpace(string(comm))})
	}
	return ps, nil
}

// stopDaemonsIn ends the polylink daemons running in the namespaces names
// (SIGTERM, so each removes its TUN and control socket; SIGKILL after
// stopGrace). Any other process there is not the testbed's to end: it is
// named in the error, and the caller must not delete the namespaces, which
// would only hide them while they live on.
func stopDaemonsIn(names []string) error {
	var errs []error
	var others []string
	for _, name := range names {
		ps, err := processesIn(name)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.comm != "polylink" {
				others = append(others, fmt.Sprintf("%s (PID %d in %s)", p.comm, p.id.PID, name))
				continue
			}
			if err := p.id.stop(stopGrace); err != nil {
				errs = append(errs, fmt.Errorf("polylink daemon %d in %s: %w", p.id.PID, name, err))
			}
		}
	}
	if len(others) > 0 {
		errs = append(errs, fmt.Errorf("processes still run inside it: %s; end them, then run 'polylink testbed down' again", strings.Join(others, ", ")))
	}
	return errors.Join(errs...)
}
