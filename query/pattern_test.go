package query

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

// refMatch is the reference: the pattern read character by character into
// a regular expression (a lone trailing backslash matches nothing).
func refMatch(pattern, v string) bool {
	if !strings.ContainsAny(pattern, `*?\`) {
		return pattern == v
	}
	var re strings.Builder
	re.WriteString(`(?s)^`)
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			re.WriteString(`.*`)
		case '?':
			re.WriteString(`.`)
		case '\\':
			if i+1 == len(rs) {
				return false
			}
			i++
			re.WriteString(regexp.QuoteMeta(string(rs[i])))
		default:
			re.WriteString(regexp.QuoteMeta(string(rs[i])))
		}
	}
	re.WriteString(`$`)
	return regexp.MustCompile(re.String()).MatchString(v)
}

var patternCases = []struct {
	name, pattern, value string
	want                 bool
}{
	{"exact", "web", "web", true},
	{"exact differs", "web", "web1", false},
	{"star suffix", "web*", "webserver", true},
	{"star prefix", "*server", "webserver", true},
	{"star alone matches empty", "*", "", true},
	{"stars around", "*eb*er*", "webserver", true},
	{"star needs the end", "*eb", "webserver", false},
	{"question mark one character", "d?", "db", true},
	{"question mark not zero", "d?", "d", false},
	{"question mark is one character, not one byte", "?", "é", true},
	{"middle parts in order", "a*b*c", "axxbyyc", true},
	{"middle parts out of order", "a*c*b", "axxbyyc", false},
	{"first and last do not overlap", "ab*ba", "aba", false},
	{"middle part retried after a false start", "*a?c*", "abxaxc", true},
	{"escaped star is literal", `web\*`, "web*", true},
	{"escaped star is not a wildcard", `web\*`, "webserver", false},
	{"escaped question mark", `d\?`, "db", false},
	{"escaped backslash", `a\\b`, `a\b`, true},
	{"escaped ordinary character", `\a*`, "abc", true},
	{"trailing backslash matches nothing", `web\`, `web\`, false},
	{"no wildcard compares bytes", "\xff", "\xfe", false},
	{"with a wildcard an invalid byte is U+FFFD", "?\xff", "a\xfe", true},
	{"invalid bytes each one character", "??", "\xff\xfe", true},
	{"long run of question marks", strings.Repeat("?", 3) + "*", "ab", false},
	{"create-time prefix", "2026-03-01T*", "2026-03-01T10:00:00.000Z", true},
}

func TestPattern(t *testing.T) {
	for _, c := range patternCases {
		t.Run(c.name, func(t *testing.T) {
			p := compilePattern(c.pattern)
			if got := p.match(c.value); got != c.want {
				t.Errorf("%q matching %q: got %v, want %v", c.pattern, c.value, got, c.want)
			}
			if ref := refMatch(c.pattern, c.value); ref != c.want {
				t.Errorf("reference: %q matching %q: got %v, want %v", c.pattern, c.value, ref, c.want)
			}
		})
	}
}

// TestPatternAgainstReference draws patterns and values from a small
// alphabet, so that wildcards, escapes and repeats meet often.
func TestPatternAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	pick := func(alphabet []string, n int) string {
		var b strings.Builder
		for range rng.Intn(n) {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		return b.String()
	}
	patternChars := []string{"a", "b", "é", "*", "?", `\`, "\xff"}
	valueChars := []string{"a", "b", "é", "*", "?", `\`, "\xff", "\xfe"}
	for range 50000 {
		pattern, value := pick(patternChars, 10), pick(valueChars, 12)
		p := compilePattern(pattern)
		if got, want := p.match(value), refMatch(pattern, value); got != want {
			t.Fatalf("%q matching %q: got %v, want %v (the reference)", pattern, value, got, want)
		}
	}
}

func FuzzPattern(f *testing.F) {
	for _, c := range patternCases {
		f.Add(c.pattern, c.value)
	}
	f.Fuzz(func(t *testing.T, pattern, value string) {
		if len(pattern) > MaxFilterValueLength || len(value) > 1024 {
			return
		}
		p := compilePattern(pattern)
		if got, want := p.match(value), refMatch(pattern, value); got != want {
			t.Errorf("%q matching %q: got %v, want %v (the reference)", pattern, value, got, want)
		}
	})
}
