package stream

import (
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// svgBuilder accumulates SVG markup. Coordinates are written with one decimal:
// enough for a screen, small enough for a plot of thousands of points.
type svgBuilder struct {
	b strings.Builder
}

func (s *svgBuilder) raw(format string, args ...any) {
	fmt.Fprintf(&s.b, format, args...)
}

// text writes a <text> element; attrs are extra attributes, already formed.
func (s *svgBuilder) text(x, y float64, attrs, content string) {
	s.raw(`<text x="%s" y="%s" %s>`, num(x), num(y), attrs)
	_ = xml.EscapeText(&s.b, []byte(content)) // strings.Builder writes never fail
	s.b.WriteString("</text>\n")
}

func (s *svgBuilder) line(x1, y1, x2, y2 float64, attrs string) {
	s.raw(`<line x1="%s" y1="%s" x2="%s" y2="%s" %s/>`+"\n", num(x1), num(y1), num(x2), num(y2), attrs)
}

func (s *svgBuilder) rect(x, y, w, h float64, attrs string) {
	s.raw(`<rect x="%s" y="%s" width="%s" height="%s" %s/>`+"\n", num(x), num(y), num(w), num(h), attrs)
}

// num formats a coordinate with at most one decimal.
func num(v float64) string {
	r := math.Round(v*10) / 10
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// escapeAttr returns s escaped for use inside a double-quoted attribute.
func escapeAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
