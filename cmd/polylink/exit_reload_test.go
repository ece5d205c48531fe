package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/polylink/polylink/router"
	"github.com/polylink/polylink/testbed/nstest"
)

// TestKernelSideSetRoutes: what a reload calls to change --route on a
// running exit node: kernel routes, the router's table and the masquerade
// sources all follow, and stopping removes everything.
func TestKernelSideSetRoutes(t *testing.T) {
	ns := nstest.Namespace(t, "pl-krl")
	cfg, err := parseRunFlags([]string{"--vip", "198.19.0.1/24", "--router", "--exit", "--tun", "plr0",
		"--route", "198.18.210.0/24=198.19.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	var (
		tun  *router.TUN
		kern *kernelSide
	)
	if err := ns.Do(func() (err error) {
		if tun, err = router.OpenTUN(router.TUNConfig{Name: cfg.tun, Prefix: cfg.vip, MTU: cfg.mtu}); err != nil {
			return err
		}
		kern, err = startKernelSide(cfg, tun, zap.NewNop())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.Close() })
	rt := router.New(router.Config{Device: tun, Prefix: cfg.vip, Relay: true, Exit: true, Routes: cfg.routes}, nil)
	intoTUN := func(dst string) bool {
		out, err := ns.Run("ip", "-o", "route", "get", dst)
		return err == nil && strings.Contains(out, "dev plr0")
	}
	if !intoTUN("198.18.210.1") {
		t.Fatal("the --route prefix is not routed into the TUN at start")
	}

	next, err := parseRunFlags([]string{"--vip", "198.19.0.1/24", "--router", "--exit", "--tun", "plr0",
		"--route", "198.18.211.0/24=198.19.0.3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Do(func() error { return kern.setRoutes(rt, next) }); err != nil {
		t.Fatal(err)
	}
	if intoTUN("198.18.210.1") || !intoTUN("198.18.211.1") {
		t.Errorf("after setRoutes: old prefix into the TUN %v, new %v; want only the new", intoTUN("198.18.210.1"), intoTUN("198.18.211.1"))
	}
	if rs := rt.Status().Routes; len(rs) != 1 || rs[0].Prefix != "198.18.211.0/24" || rs[0].Via != "198.19.0.3" {
		t.Errorf("router's routes after setRoutes: %+v", rs)
	}
	out, _ := ns.Run("nft", "list", "chain", "ip", router.ExitTableName("plr0"), "postrouting")
	if !strings.Contains(out, "198.18.211.0/24") || strings.Contains(out, "198.18.210.0/24") || !strings.Contains(out, "198.19.0.0/24") {
		t.Errorf("masquerade rules after setRoutes:\n%s", out)
	}

	if err := ns.Do(func() error { kern.Close(); return nil }); err != nil {
		t.Fatal(err)
	}
	if rules, _ := ns.Run("ip", "rule", "list"); strings.Contains(rules, "3276") && strings.Contains(rules, "suppress") {
		t.Errorf("rules left:\n%s", rules)
	}
	if tables, _ := ns.Run("nft", "list", "tables"); strings.Contains(tables, "polylink") {
		t.Errorf("nftables table left: %s", tables)
	}
}

// TestReloadChangesRoutes: SIGHUP after changing `route` in the config file
// moves the kernel route and the router's table; a route the checks refuse
// leaves both as they were.
func TestReloadChangesRoutes(t *testing.T) {
	nstest.RequireRoot(t)
	a, b := nstest.Namespace(t, "pl-rlr-a"), nstest.Namespace(t, "pl-rlr-b")
	nstest.Veth(t, a, "eth0", "198.18.102.1/24", b, "eth0", "198.18.102.2/24")
	file := filepath.Join(t.TempDir(), "pl0.toml")
	write := func(route string) {
		body := "vip = \"198.19.101.1/24\"\nprobe = \"50ms\"\npeer = [\"198.18.102.2\"]\nroute = [\"" + route + "\"]\n"
		must(t, os.WriteFile(file, []byte(body), 0o644))
	}
	write("198.18.210.0/24=198.19.101.2")
	na := startNode(t, a, "--config", file)
	startNode(t, b, "--vip", "198.19.101.2/24", "--router", "--probe", "50ms")
	waitFor(t, "the path up", 5*time.Second, func() bool { return na.upPaths("198.19.101.2") == 1 })
	intoTUN := func(dst string) bool {
		out, err := a.Run("ip", "-o", "route", "get", dst)
		return err == nil && strings.Contains(out, "dev pl0")
	}
	if !intoTUN("198.18.210.1") || intoTUN("198.18.211.1") {
		t.Fatalf("at start: 198.18.210.1 into the TUN %v, 198.18.211.1 %v; want only the first", intoTUN("198.18.210.1"), intoTUN("198.18.211.1"))
	}

	write("198.18.211.0/24=198.19.101.2")
	must(t, na.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, "the new route in the kernel", 5*time.Second, func() bool { return intoTUN("198.18.211.1") && !intoTUN("198.18.210.1") })
	if rs := na.status().Router.Routes; len(rs) != 1 || rs[0].Prefix != "198.18.211.0/24" {
		t.Errorf("router's routes after SIGHUP: %+v", rs)
	}

	before := strings.Count(na.out.String(), "reload refused")
	write("198.18.212.0/24=198.18.102.2") // next hop outside the virtual network
	must(t, na.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, "the refusal logged", 5*time.Second, func() bool { return strings.Count(na.out.String(), "reload refused") > before })
	if !intoTUN("198.18.211.1") || intoTUN("198.18.212.1") {
		t.Errorf("after a refused reload the routes changed")
	}
	if out, err := a.Run("ping", "-c", "2", "-i", "0.1", "-W", "1", "198.19.101.2"); err != nil {
		t.Errorf("the tunnel after the reloads: %v\n%s", err, out)
	}
}
