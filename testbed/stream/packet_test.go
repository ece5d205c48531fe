package stream

import (
	"errors"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	b := make([]byte, 160)
	h := header{streamID: 7, seq: 1<<40 + 3, sentNS: 123_456_789_012}
	putHeader(b, h)
	got, err := parseHeader(b)
	if err != nil || got != h {
		t.Errorf("parseHeader(putHeader(%+v)) = %+v, %v", h, got, err)
	}
}

func TestParseHeaderRejects(t *testing.T) {
	b := make([]byte, HeaderSize)
	putHeader(b, header{streamID: 1})
	for name, pkt := range map[string][]byte{
		"short":     b[:HeaderSize-1],
		"bad magic": append([]byte{0}, b[1:]...),
		"empty":     nil,
	} {
		if _, err := parseHeader(pkt); !errors.Is(err, errNotStream) {
			t.Errorf("%s: parseHeader error = %v, want errNotStream", name, err)
		}
	}
}
