package wire

import (
	"bytes"
	"testing"
)

func TestNICInfoVectors(t *testing.T) {
	// A metered NIC, from VM0's NIC 3 to the router's NIC 7:
	//   St=2, F=0, ID=0 -> 0x8000; magic; Ver=1 Kind=4 -> 0x14
	want := mustHex("80 00 B7 14 C6 13 00 02 00 00 00 03 00 00 00 07 00 00 00 01")
	h := Header{State: 2, Kind: KindNICInfo, Host: vipVM0, SrcIndex: 3, DstIndex: 7}
	b := make([]byte, HeaderLen+NICInfoLen)
	if err := h.Encode(b); err != nil {
		t.Fatal(err)
	}
	if err := (&NICInfo{Flags: NICMetered}).Encode(b[HeaderLen:]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded % X, want % X", b, want)
	}
	var got Header
	body, err := Decode(b, &got)
	if err != nil || got != h {
		t.Fatalf("Decode: %+v %v", got, err)
	}
	var n NICInfo
	if err := DecodeNICInfo(body, &n); err != nil || n.Flags != NICMetered {
		t.Fatalf("DecodeNICInfo: %+v %v", n, err)
	}
	for _, l := range []int{0, 3, 5, ProbeLen} {
		if _, err := Decode(append(b[:HeaderLen:HeaderLen], make([]byte, l)...), &got); err != ErrLength {
			t.Errorf("NIC info body of %d bytes: %v, want ErrLength", l, err)
		}
	}
	if (&NICInfo{}).Encode(make([]byte, 3)) != ErrShort {
		t.Error("Encode into 3 bytes: want ErrShort")
	}
}
