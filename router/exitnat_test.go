package router

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/polylink/polylink/testbed/nstest"
)

// TestOpenExitInstallsAndRemovesTable: OpenExit replaces a leftover table,
// installs the drawing in exitnat.go, turns ip_forward on; Close removes
// the table and nothing else.
func TestOpenExitInstallsAndRemovesTable(t *testing.T) {
	ns := nstest.Namespace(t, "pl-nat")
	table := ExitTableName("pl9")
	// A killed daemon's table, and someone else's, are there already.
	for _, c := range [][]string{
		{"nft", "add", "table", "ip", table},
		{"nft", "add", "chain", "ip", table, "stale"},
		{"nft", "add", "table", "ip", "other"},
	} {
		if _, err := ns.Run(c[0], c[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	var x *Exit
	if err := ns.Do(func() (err error) {
		x, err = OpenExit(ExitConfig{TUN: "pl9", Sources: []netip.Prefix{
			netip.MustParsePrefix("198.19.0.1/24"), netip.MustParsePrefix("198.18.210.0/24")}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	out, err := ns.Run("nft", "list", "table", "ip", table)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"type filter hook forward priority filter; policy accept;",
		`oifname "pl9" ct state established,related counter packets 0 bytes 0 accept`,
		`oifname "pl9" iifname != "pl9" counter packets 0 bytes 0 drop`,
		"type nat hook postrouting priority srcnat;",
		`oifname != "pl9" ip saddr 198.19.0.0/24 counter packets 0 bytes 0 masquerade`,
		`oifname != "pl9" ip saddr 198.18.210.0/24 counter packets 0 bytes 0 masquerade`,
		"type filter hook forward priority mangle; policy accept;",
		`iifname "pl9" tcp flags syn tcp option maxseg size set rt mtu counter packets 0 bytes 0`,
		`oifname "pl9" tcp flags syn tcp option maxseg size set rt mtu counter packets 0 bytes 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "stale") {
		t.Errorf("the leftover table was not replaced:\n%s", out)
	}
	if fwd, _ := ns.Run("cat", ipForwardPath); strings.TrimSpace(fwd) != "1" {
		t.Errorf("ip_forward = %q after OpenExit, want 1", fwd)
	}
	if err := ns.Do(func() error { return x.SetSources([]netip.Prefix{netip.MustParsePrefix("198.19.0.0/24")}) }); err != nil {
		t.Fatal(err)
	}
	if out, _ := ns.Run("nft", "list", "chain", "ip", table, "postrouting"); strings.Contains(out, "198.18.210.0/24") ||
		strings.Count(out, "masquerade") != 1 {
		t.Errorf("after SetSources(198.19.0.0/24):\n%s", out)
	}
	var st ExitStatus
	if err := ns.Do(func() (err error) { st, err = x.Status(); return err }); err != nil || !st.IPForward || st.Table != table {
		t.Errorf("Status: %+v, %v", st, err)
	}
	if err := ns.Do(x.Close); err != nil {
		t.Fatal(err)
	}
	tables, _ := ns.Run("nft", "list", "tables")
	if strings.Contains(tables, table) || !strings.Contains(tables, "table ip other") {
		t.Errorf("after Close: %q, want only the other table", tables)
	}
	if err := ns.Do(x.Close); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
