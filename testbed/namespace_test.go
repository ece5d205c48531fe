package testbed_test

import (
	"net"
	"strings"
	"testing"

	"github.com/polylink/polylink/testbed"
	"github.com/polylink/polylink/testbed/nstest"
)

func TestNamespaceVethAndDo(t *testing.T) {
	a := nstest.Namespace(t, "pl-nst")
	b := nstest.Namespace(t, "pl-nst")
	nstest.Veth(t, a, "va", "198.18.200.1/24", b, "vb", "198.18.200.2/24")

	var ifaces []net.Interface
	if err := b.Do(func() (err error) { ifaces, err = net.Interfaces(); return err }); err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, i := range ifaces {
		names = append(names, i.Name)
	}
	if got := strings.Join(names, ","); got != "lo,vb" {
		t.Fatalf("interfaces inside namespace = %s, want lo,vb", got)
	}
	out, err := a.Run("ip", "-4", "-o", "addr", "show", "dev", "va")
	if err != nil || !strings.Contains(out, "198.18.200.1/24") {
		t.Fatalf("address on va: %q, %v", out, err)
	}
}

func TestNamespaceCloseRemoves(t *testing.T) {
	nstest.RequireRoot(t)
	ns, err := testbed.NewNamespace(testbed.UniqueName("pl-nst"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ns.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	out, _ := testbed.Cmd("ip", "netns", "list")
	if strings.Contains(out, ns.Name) {
		t.Fatalf("namespace %s still listed after Close:\n%s", ns.Name, out)
	}
}
