package main

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/polylink/polylink/session"
)

func testPub(t *testing.T) string {
	t.Helper()
	k, err := session.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey().String()
}

// TestKeyedConfigFile: key, peer-key and allow are config keys like any
// flag; the keyed MTU default is 16 bytes below the keyless one.
func TestKeyedConfigFile(t *testing.T) {
	r, h := testPub(t), testPub(t)
	p := writeConfig(t, `vip = "198.19.0.1/24"
router = true
key = "/etc/polylink/key"
allow = ["`+h+`=198.19.0.2"]
`)
	c, err := parseRunFlags([]string{"--config", p})
	if err != nil {
		t.Fatal(err)
	}
	if c.keyed.keyFile != "/etc/polylink/key" || len(c.keyed.allows) != 1 || c.keyed.allows[0].pub.String() != h ||
		c.keyed.allows[0].vip.String() != "198.19.0.2" || c.mtu != 1448 {
		t.Fatalf("from the file: %+v mtu %d", c.keyed, c.mtu)
	}
	c, err = parseRunFlags([]string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3", "--key", "k", "--peer-key", r, "--mtu", "1400"})
	if err != nil || c.keyed.peerKey.String() != r || c.mtu != 1400 {
		t.Fatalf("flags: %+v mtu %d err %v", c.keyed, c.mtu, err)
	}
}

// TestKeyedFlagErrors: each mistake is refused with one line saying what
// to give instead.
func TestKeyedFlagErrors(t *testing.T) {
	r := testPub(t)
	base := []string{"--vip", "198.19.0.2/24", "--peer", "198.18.0.3"}
	for i, c := range []struct {
		args []string
		want string
	}{
		0: {append(base, "--peer-key", r), "need --key FILE"},
		1: {append(base, "--key", "k"), "needs --peer-key PUB"},
		2: {append(base, "--key", "k", "--peer-key", "not-a-key"), "--peer-key \"not-a-key\""},
		3: {append(base, "--key", "k", "--peer-key", r, "--peer-key", r), "give its key once"},
		4: {[]string{"--vip", "198.19.0.1/24", "--router", "--key", "k"}, "lets nobody in"},
		5: {[]string{"--vip", "198.19.0.1/24", "--router", "--key", "k", "--allow", r + "=10.0.0.1"}, "another host address of the virtual network"},
		6: {[]string{"--vip", "198.19.0.1/24", "--router", "--key", "k", "--allow", r}, "want PUB=VIP"},
		7: {[]string{"--vip", "198.19.0.1/24", "--router", "--key", "k", "--allow", r + "=198.19.0.2", "--allow", testPub(t) + "=198.19.0.2"}, "given twice"},
	} {
		_, err := parseRunFlags(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("case %d: %v, want one line containing %q", i, err, c.want)
		}
	}
}
