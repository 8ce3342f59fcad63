package query

import (
	"strings"
	"unicode/utf8"
)

// pattern is one filter value compiled once per request: * matches any run
// of characters, ? any one character, and a backslash makes the next
// character literal. The stars cut it into parts, each matched in one
// sweep of the value (strings.Index finds where a part can start), so a
// match costs at most the value's length times the pattern's, and filter
// values are at most MaxFilterValueLength characters.
type pattern struct {
	exact string    // the whole value, when it has no *, ? or backslash
	parts [][]piece // otherwise the runs between stars, in order
	never bool      // a lone backslash at the end matches nothing
}

// piece is a literal run of text or, when lit is "", a run of any ? marks.
type piece struct {
	lit string
	any int
}

func compilePattern(s string) pattern {
	if !strings.ContainsAny(s, `*?\`) {
		return pattern{exact: s}
	}
	p := pattern{parts: [][]piece{nil}}
	s = validRunes(s)
	var lit strings.Builder
	last := func() *[]piece { return &p.parts[len(p.parts)-1] }
	flush := func() {
		if lit.Len() > 0 {
			*last() = append(*last(), piece{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			flush()
			p.parts = append(p.parts, nil)
		case '?':
			flush()
			if parts := *last(); len(parts) > 0 && parts[len(parts)-1].lit == "" {
				parts[len(parts)-1].any++
			} else {
				*last() = append(parts, piece{any: 1})
			}
		case '\\':
			if i+1 == len(s) {
				p.never = true
				return p
			}
			_, size := utf8.DecodeRuneInString(s[i+1:])
			lit.WriteString(s[i+1 : i+1+size])
			i += size
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// validRunes reads s as []rune(s) does, every invalid byte a U+FFFD, so
// that comparing bytes of the result compares characters.
func validRunes(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// match reports whether v matches the whole pattern.
func (p *pattern) match(v string) bool {
	if p.parts == nil {
		return v == p.exact
	}
	if p.never {
		return false
	}
	v = validRunes(v)
	first := p.parts[0]
	end, ok := matchAt(first, v, 0)
	if !ok {
		return false
	}
	if len(p.parts) == 1 {
		return end == len(v)
	}
	// The last part is anchored at the end of v; the middle ones fit,
	// leftmost first, between the first and the last.
	tail, ok := matchEnd(p.parts[len(p.parts)-1], v)
	if !ok || tail < end {
		return false
	}
	for _, part := range p.parts[1 : len(p.parts)-1] {
		if end, ok = find(part, v[:tail], end); !ok {
			return false
		}
	}
	return true
}

// matchAt matches part at byte i of v and returns where the match ends.
func matchAt(part []piece, v string, i int) (int, bool) {
	for _, pc := range part {
		if pc.lit != "" {
			if !strings.HasPrefix(v[i:], pc.lit) {
				return 0, false
			}
			i += len(pc.lit)
			continue
		}
		for range pc.any {
			if i = nextRune(v, i); i < 0 {
				return 0, false
			}
		}
	}
	return i, true
}

// find returns the end of the leftmost match of part in v at or after from.
func find(part []piece, v string, from int) (int, bool) {
	for from <= len(v) {
		start := from
		if len(part) > 0 && part[0].lit != "" {
			i := strings.Index(v[from:], part[0].lit)
			if i < 0 {
				return 0, false
			}
			start = from + i
		}
		if end, ok := matchAt(part, v, start); ok {
			return end, true
		}
		if from = nextRune(v, start); from < 0 {
			break
		}
	}
	return 0, false
}

// nextRune returns the byte offset of the character after the one at i in
// the valid UTF-8 v, or -1 at the end.
func nextRune(v string, i int) int {
	if i == len(v) {
		return -1
	}
	for i++; i < len(v) && !utf8.RuneStart(v[i]); i++ {
	}
	return i
}

// matchEnd matches part at the end of v and returns where the match starts.
func matchEnd(part []piece, v string) (int, bool) {
	i := len(v)
	for k := len(part) - 1; k >= 0; k-- {
		if lit := part[k].lit; lit != "" {
			if !strings.HasSuffix(v[:i], lit) {
				return 0, false
			}
			i -= len(lit)
			continue
		}
		for range part[k].any {
			if i = prevRune(v, i); i < 0 {
				return 0, false
			}
		}
	}
	return i, true
}

// prevRune returns the byte offset of the character before i in the
// valid UTF-8 v, or -1 at the start.
func prevRune(v string, i int) int {
	if i == 0 {
		return -1
	}
	for i--; i > 0 && !utf8.RuneStart(v[i]); i-- {
	}
	return i
}
