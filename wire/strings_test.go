package wire

import (
	"strconv"
	"strings"
	"testing"
)

func TestKindString(t *testing.T) {
	cases := []struct {
		k    Kind
		want string
	}{
		0: {KindData, "data"},
		1: {KindProbe, "probe"},
		2: {KindProbeReply, "probe-reply"},
		3: {KindReplyProbe, "reply-probe"},
		4: {KindNICInfo, "nic-info"},
		5: {5, "kind(5)"},
		6: {255, "kind(255)"},
	}
	for i, c := range cases {
		if got := c.k.String(); got != c.want {
			t.Errorf("case %d: Kind(%d).String() = %q, want %q", i, uint8(c.k), got, c.want)
		}
	}
}

func TestErrorStrings(t *testing.T) {
	seen := map[string]Error{}
	for e := ErrShort; e < NumErrors; e++ {
		s := e.Error()
		if !strings.HasPrefix(s, "wire: ") || s == "wire: error("+strconv.Itoa(int(e))+")" {
			t.Errorf("Error(%d).Error() = %q, want a described reason", uint8(e), s)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("Error(%d) and Error(%d) share the text %q", uint8(prev), uint8(e), s)
		}
		seen[s] = e
	}
	if got := ErrMagic.Error(); got != "wire: bad magic" {
		t.Errorf("ErrMagic.Error() = %q", got)
	}
	if got := Error(0).Error(); got != "wire: error(0)" {
		t.Errorf("Error(0).Error() = %q", got)
	}
	if got := Error(200).Error(); got != "wire: error(200)" {
		t.Errorf("Error(200).Error() = %q", got)
	}
}
