package sigv4

import (
	"crypto/sha256"
	"net/url"
	"slices"
	"strings"
)

const upperhex = "0123456789ABCDEF"

// unreserved reports the RFC 3986 unreserved set that AWS leaves unescaped.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// appendEscape appends s in AWS's URI encoding: unreserved bytes kept,
// everything else (space included) as %XX with upper-case hex.
func appendEscape(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || keepSlash && c == '/' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperhex[c>>4], upperhex[c&15])
		}
	}
	return dst
}

func escape(s string, keepSlash bool) string {
	return string(appendEscape(make([]byte, 0, len(s)+8), s, keepSlash))
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isCanonical reports whether a raw query component is already in AWS
// canonical form, i.e. decoding and re-encoding it would give it back
// unchanged. Well-behaved SDKs send exactly that, so the common case costs
// no allocation.
func isCanonical(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			continue
		}
		if c != '%' || i+2 >= len(s) {
			return false
		}
		h, l := s[i+1], s[i+2]
		if !('0' <= h && h <= '9' || 'A' <= h && h <= 'F') || !('0' <= l && l <= '9' || 'A' <= l && l <= 'F') {
			return false
		}
		a, _ := unhex(h)
		b, _ := unhex(l)
		if unreserved(a<<4 | b) {
			return false // %41 must be canonicalised to "A"
		}
		i += 2
	}
	return true
}

// canonicalComponent turns a raw query key or value into its canonical
// encoding: decode as Go's url.ParseQuery would ('+' is a space), then
// re-encode with AWS's rules.
func canonicalComponent(raw string) (string, bool) {
	if isCanonical(raw) {
		return raw, true
	}
	dec, err := url.QueryUnescape(raw)
	if err != nil {
		return "", false
	}
	return escape(dec, false), true
}

// qparam is one query parameter: raw as received and canonically encoded.
type qparam struct {
	rawKey, rawVal string
	key, val       string // canonical encodings; key also identifies the decoded name
}

// parseQuery splits a raw query into parameters in arrival order. Empty
// segments are skipped like url.ParseQuery does; unlike it, ';' is an
// ordinary character, so everything the client sent stays covered by the
// signature. ok=false means a bad %-escape.
func parseQuery(raw string, dst []qparam) ([]qparam, bool) {
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		ck, ok1 := canonicalComponent(k)
		cv, ok2 := canonicalComponent(v)
		if !ok1 || !ok2 {
			return dst, false
		}
		dst = append(dst, qparam{rawKey: k, rawVal: v, key: ck, val: cv})
	}
	return dst, true
}

// sortParams orders parameters for the canonical query string. AWS sorts
// after encoding, by name and then by value.
func sortParams(q []qparam) {
	slices.SortFunc(q, func(a, b qparam) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.val, b.val)
	})
}

// hmacSHA256 is HMAC-SHA256 over stack buffers: the signing-key chain runs
// five HMACs per request and crypto/hmac would allocate two digests for
// each. The construction is RFC 2104; a test checks it against crypto/hmac.
func hmacSHA256(key, msg []byte) [sha256.Size]byte {
	var k [sha256.BlockSize]byte
	if len(key) > len(k) {
		s := sha256.Sum256(key)
		copy(k[:], s[:])
	} else {
		copy(k[:], key)
	}
	var stack [sha256.BlockSize + 256]byte
	var in []byte
	if n := sha256.BlockSize + len(msg); n <= len(stack) {
		in = stack[:n]
	} else {
		in = make([]byte, n)
	}
	for i := range k {
		in[i] = k[i] ^ 0x36
	}
	copy(in[sha256.BlockSize:], msg)
	inner := sha256.Sum256(in)
	var out [sha256.BlockSize + sha256.Size]byte
	for i := range k {
		out[i] = k[i] ^ 0x5c
	}
	copy(out[sha256.BlockSize:], inner[:])
	return sha256.Sum256(out[:])
}

// hmacString avoids a []byte(string) conversion at the call sites.
func hmacString(key []byte, msg string) [sha256.Size]byte {
	var stack [64]byte
	return hmacSHA256(key, append(stack[:0], msg...))
}

const lowerhex = "0123456789abcdef"

func appendHex(dst []byte, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, lowerhex[c>>4], lowerhex[c&15])
	}
	return dst
}

// decodeHex32 decodes exactly 64 hex digits (either case).
func decodeHex32(s string) (out [32]byte, ok bool) {
	if len(s) != 64 {
		return out, false
	}
	for i := range out {
		h, ok1 := unhex(s[2*i])
		l, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return out, false
		}
		out[i] = h<<4 | l
	}
	return out, true
}
