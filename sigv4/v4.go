package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	algoV4          = "AWS4-HMAC-SHA256"
	amzDateLayout   = "20060102T150405Z"
	scopeTerminator = "aws4_request"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	maxPresignAge   = 604800 // seconds; AWS's limit for X-Amz-Expires, and so for any signed request's validity
	maxSignedHdrs   = 64     // far above what any SDK signs; bounds the work
)

// v4Auth is the parsed Authorization header (or presign parameters).
type v4Auth struct {
	akid          string
	scope         string // DATE/REGION/SERVICE/aws4_request, verbatim
	date          string // DATE from the scope
	region        string
	service       string
	signedHeaders string // verbatim, e.g. "content-type;host;x-amz-date"
	sig           [sha256.Size]byte
}

func isAuthSep(c byte) bool { return c == ',' || c == ' ' || c == '\t' }

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex
//
// Components may be separated by commas, spaces or both, in any order,
// because SDKs differ (", " from most, "," from some). No component value can
// contain a comma or a space, so splitting on them is unambiguous.
func parseAuthorization(h string) (v4Auth, *Error) {
	var a v4Auth
	rest, ok := strings.CutPrefix(h, algoV4)
	if !ok || rest != "" && !isAuthSep(rest[0]) {
		algo, _, _ := strings.Cut(h, " ")
		if len(algo) > 40 {
			algo = algo[:40] + "..."
		}
		return a, fail(KindMalformed, fmt.Sprintf("unsupported authorization algorithm %q: only %s (Signature Version 4) is supported in the Authorization header", algo, algoV4))
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for {
		for rest != "" && isAuthSep(rest[0]) {
			rest = rest[1:]
		}
		if rest == "" {
			break
		}
		n := 0
		for n < len(rest) && !isAuthSep(rest[n]) {
			n++
		}
		tok := rest[:n]
		rest = rest[n:]
		name, val, found := strings.Cut(tok, "=")
		if !found {
			return a, fail(KindMalformed, fmt.Sprintf("Authorization header component %q is not of the form Name=value", truncate(tok, 40)))
		}
		var have *bool
		switch name {
		case "Credential":
			cred, have = val, &haveCred
		case "SignedHeaders":
			signed, have = val, &haveSigned
		case "Signature":
			sig, have = val, &haveSig
		default:
			return a, fail(KindMalformed, fmt.Sprintf("Authorization header has unknown component %q; expected Credential, SignedHeaders and Signature", truncate(name, 40)))
		}
		if *have {
			return a, fail(KindMalformed, "Authorization header has more than one "+name+" component")
		}
		*have = true
	}
	switch {
	case !haveCred:
		return a, fail(KindMalformed, "Authorization header requires a Credential component")
	case !haveSigned:
		return a, fail(KindMalformed, "Authorization header requires a SignedHeaders component")
	case !haveSig:
		return a, fail(KindMalformed, "Authorization header requires a Signature component")
	}
	if err := a.set(cred, signed, sig); err != nil {
		return a, err
	}
	return a, nil
}

// set validates and stores the three signature components, shared by the
// header and presigned forms.
func (a *v4Auth) set(cred, signed, sig string) *Error {
	akid, scope, ok1 := strings.Cut(cred, "/")
	date, rest, ok2 := strings.Cut(scope, "/")
	region, rest, ok3 := strings.Cut(rest, "/")
	service, term, ok4 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || !ok3 || !ok4 || akid == "" || region == "" || service == "" || term != scopeTerminator {
		return fail(KindMalformed, fmt.Sprintf("Credential %q is not of the form ACCESSKEYID/YYYYMMDD/REGION/SERVICE/aws4_request", truncate(cred, 120)))
	}
	if !isDigits(date, 8) {
		return fail(KindMalformed, fmt.Sprintf("the date in Credential %q must be YYYYMMDD", truncate(cred, 120)))
	}
	a.akid, a.scope, a.date, a.region, a.service = akid, scope, date, region, service

	if err := checkSignedHeaders(signed); err != nil {
		return err
	}
	a.signedHeaders = signed

	b, ok := decodeHex32(sig)
	if !ok {
		return fail(KindMalformed, "Signature must be 64 hexadecimal digits (the hex HMAC-SHA256)")
	}
	a.sig = b
	return nil
}

// checkSignedHeaders requires the list the spec prescribes: lower-case names,
// sorted, no duplicates, including host. Sortedness also makes duplicates
// detectable in one pass.
func checkSignedHeaders(s string) *Error {
	bad := func(why string) *Error {
		return fail(KindMalformed, fmt.Sprintf("SignedHeaders %q %s; it must list lower-case header names, sorted, separated by ';', including host", truncate(s, 120), why))
	}
	if s == "" {
		return bad("is empty")
	}
	prev, rest, host := "", s, false
	for n := 1; ; n++ {
		name, tail, more := strings.Cut(rest, ";")
		if name == "" {
			return bad("has an empty name")
		}
		for i := 0; i < len(name); i++ {
			if c := name[i]; c <= ' ' || c >= 0x7f || 'A' <= c && c <= 'Z' || c == ':' {
				return bad("has a name that is not lower-case")
			}
		}
		if n > 1 && name <= prev {
			return bad("is not sorted or repeats a name")
		}
		if n > maxSignedHdrs {
			return bad("lists too many headers")
		}
		host = host || name == "host"
		prev = name
		if !more {
			break
		}
		rest = tail
	}
	if !host {
		return bad("does not include host")
	}
	return nil
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// truncate shortens client-supplied text for messages, on a rune boundary so
// the message stays valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// parseAmzDate accepts only the exact ISO 8601 basic form SigV4 signs, so the
// value placed in the string to sign is the one the client used.
func parseAmzDate(v, what string) (time.Time, *Error) {
	t, ok := amzDate(v)
	if !ok {
		return time.Time{}, fail(KindMalformed, fmt.Sprintf("%s %q must be in the form YYYYMMDDTHHMMSSZ (UTC)", what, truncate(v, 40)))
	}
	return t, nil
}

// amzDate reads v in amzDateLayout exactly: sixteen bytes, digits where the
// layout has them, a real calendar time. It accepts what time.Parse and a
// round trip through Format accept, at a tenth of the cost (every request
// pays it).
func amzDate(v string) (time.Time, bool) {
	if len(v) != len(amzDateLayout) || v[8] != 'T' || v[15] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for i := from; i < to; i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0, false
			}
			n = n*10 + int(v[i]-'0')
		}
		return n, true
	}
	var f [6]int
	for i, span := range [6][2]int{{0, 4}, {4, 6}, {6, 8}, {9, 11}, {11, 13}, {13, 15}} {
		var ok bool
		if f[i], ok = num(span[0], span[1]); !ok {
			return time.Time{}, false
		}
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, time.UTC)
	// time.Date normalises what is out of range (a 30 February, a 24th
	// hour, a 60th second); such a date is not one.
	if t.Year() != f[0] || int(t.Month()) != f[1] || t.Day() != f[2] || t.Hour() != f[3] || t.Minute() != f[4] || t.Second() != f[5] {
		return time.Time{}, false
	}
	return t, true
}

// headerDate finds the signing time of a header-signed request: X-Amz-Date,
// else the Date header (RFC 1123), formatted the way the string to sign uses it.
func headerDate(h http.Header) (string, time.Time, *Error) {
	if vals := h["X-Amz-Date"]; len(vals) > 0 {
		if len(vals) > 1 {
			return "", time.Time{}, fail(KindMalformed, "the request has more than one X-Amz-Date header")
		}
		v := strings.TrimSpace(vals[0])
		t, err := parseAmzDate(v, "X-Amz-Date header")
		return v, t, err
	}
	if vals := h["Date"]; len(vals) > 0 {
		if len(vals) > 1 {
			return "", time.Time{}, fail(KindMalformed, "the request has more than one Date header")
		}
		t, err := http.ParseTime(strings.TrimSpace(vals[0]))
		if err != nil {
			return "", time.Time{}, fail(KindMalformed, fmt.Sprintf("Date header %q is not an RFC 1123 date; send X-Amz-Date: YYYYMMDDTHHMMSSZ instead", truncate(vals[0], 40)))
		}
		t = t.UTC()
		return t.Format(amzDateLayout), t, nil
	}
	return "", time.Time{}, fail(KindMalformed, "the request has no X-Amz-Date (or Date) header; SigV4 needs the signing time")
}

// checkScope applies the checks that need only the parsed credential and
// the host.
func checkScope(a *v4Auth, host, amzDate string, opt *Options) *Error {
	if a.date != amzDate[:8] {
		return fail(KindMalformed, fmt.Sprintf("the Credential date %s does not match the request date %s; sign with the same UTC day as X-Amz-Date", a.date, amzDate[:8]))
	}
	if opt.Service != "" && a.service != opt.Service && a.service != hostService(host) {
		return fail(KindWrongService, fmt.Sprintf("credential should be scoped to correct service: '%s'. The request is signed for service %q; configure your client to sign for service %q", opt.Service, truncate(a.service, 40), opt.Service))
	}
	if opt.EnforceRegion && a.region != opt.Region {
		return fail(KindWrongRegion, fmt.Sprintf("the credential is scoped to region %q but this endpoint is region %q; configure your client with region %q", a.region, opt.Region, opt.Region))
	}
	return nil
}

// hostService is the service a client derives from the host name when it
// is not told one, as boto 2 does: the first DNS label, without the port.
func hostService(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	label, _, _ := strings.Cut(host, ".")
	return label
}

// checkExpiry applies to every request that names the end of its validity
// (a presigned SigV4 URL, a SigV2 request with Expires): it must not be past,
// nor further ahead than maxPresignAge (plus the clock skew allowed, since a
// client's clock may run ahead), so no signature can be replayed for longer
// than AWS allows a presigned URL to live.
func checkExpiry(end time.Time, opt *Options) *Error {
	if opt.Now.After(end) {
		return fail(KindExpired, fmt.Sprintf("the request expired at %s (server time %s)",
			end.UTC().Format(time.RFC3339), opt.Now.UTC().Format(time.RFC3339)))
	}
	if end.Sub(opt.Now) > maxPresignAge*time.Second+opt.MaxSkew {
		return fail(KindMalformed, fmt.Sprintf("the request is valid until %s, more than %d seconds (7 days) after the server time %s; a signed request may be valid for at most %d seconds",
			end.UTC().Format(time.RFC3339), maxPresignAge, opt.Now.UTC().Format(time.RFC3339), maxPresignAge))
	}
	return nil
}

// payloadHash decides the hash for the last line of the canonical request.
// The server always hashes the body itself, so a client-declared
// X-Amz-Content-Sha256 can only confirm it. UNSIGNED-PAYLOAD is honoured only
// for presigned requests with an empty body: for a Query API the body carries
// the action, and an unsigned one could be swapped.
func payloadHash(r *Request, presigned bool) (string, *Error) {
	body := r.BodySHA256
	if body == "" {
		body = emptySHA256
	}
	vals := r.Header["X-Amz-Content-Sha256"]
	if len(vals) == 0 {
		return body, nil
	}
	if len(vals) > 1 {
		return "", fail(KindMalformed, "the request has more than one X-Amz-Content-Sha256 header")
	}
	v := strings.TrimSpace(vals[0])
	switch {
	case strings.EqualFold(v, body):
		return v, nil // the client's spelling is what it signed
	case v == unsignedPayload && presigned && body == emptySHA256:
		return v, nil
	case v == unsignedPayload:
		return "", fail(KindMismatch, "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD is not accepted here; sign the SHA-256 of the request body")
	}
	return "", fail(KindMismatch, "the X-Amz-Content-Sha256 header does not match the SHA-256 of the request body")
}

func verifyHeader(r *Request, authz string, q []qparam, lookup SecretLookup, opt *Options) (Result, error) {
	a, err := parseAuthorization(authz)
	if err != nil {
		return Result{}, err
	}
	amzDate, t, err := headerDate(r.Header)
	if err != nil {
		return Result{}, err
	}
	if err := checkScope(&a, r.Host, amzDate, opt); err != nil {
		return Result{}, err
	}
	if d := opt.Now.Sub(t); d > opt.MaxSkew || d < -opt.MaxSkew {
		return Result{}, fail(KindExpired, fmt.Sprintf("the request was signed at %s but the server time is %s; the difference exceeds %s, so fix the client's clock",
			t.Format(time.RFC3339), opt.Now.UTC().Format(time.RFC3339), opt.MaxSkew))
	}
	payload, err := payloadHash(r, false)
	if err != nil {
		return Result{}, err
	}
	return finishV4(r, &a, amzDate, q, "", payload, lookup, opt.Keys, false)
}

func verifyPresigned(r *Request, q []qparam, lookup SecretLookup, opt *Options) (Result, error) {
	var vals [6]string
	names := [6]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Expires"}
	var missing []string
	for n, name := range names {
		found := false
		for i := range q {
			if q[i].key != name {
				continue
			}
			if found {
				return Result{}, fail(KindMalformed, "the query has more than one "+name+" parameter")
			}
			found = true
			v, err := url.QueryUnescape(q[i].rawVal)
			if err != nil { // parseQuery already accepted it, so this is unreachable
				return Result{}, fail(KindMalformed, "the query string is not valid URL encoding")
			}
			vals[n] = v
		}
		if !found || vals[n] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Result{}, fail(KindMalformed, "presigned request is missing query parameter(s) "+strings.Join(missing, ", ")+"; a SigV4 presigned URL needs X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature")
	}
	algo, cred, date, signed, sig, exp := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
	if algo != algoV4 {
		return Result{}, fail(KindMalformed, fmt.Sprintf("X-Amz-Algorithm %q is not supported; use %s", truncate(algo, 40), algoV4))
	}
	var a v4Auth
	if err := a.set(cred, signed, sig); err != nil {
		return Result{}, err
	}
	t, err := parseAmzDate(date, "X-Amz-Date parameter")
	if err != nil {
		return Result{}, err
	}
	secs, perr := strconv.Atoi(exp)
	if perr != nil || !isDigits(exp, len(exp)) || secs < 1 || secs > maxPresignAge {
		return Result{}, fail(KindMalformed, fmt.Sprintf("X-Amz-Expires %q must be a whole number of seconds from 1 to %d", truncate(exp, 20), maxPresignAge))
	}
	if err := checkScope(&a, r.Host, date, opt); err != nil {
		return Result{}, err
	}
	if t.Sub(opt.Now) > opt.MaxSkew {
		return Result{}, fail(KindExpired, fmt.Sprintf("the presigned request is dated %s, which is in the future (server time %s); fix the client's clock",
			t.Format(time.RFC3339), opt.Now.UTC().Format(time.RFC3339)))
	}
	if err := checkExpiry(t.Add(time.Duration(secs)*time.Second), opt); err != nil {
		return Result{}, err
	}
	payload, err := payloadHash(r, true)
	if err != nil {
		return Result{}, err
	}
	return finishV4(r, &a, date, q, "X-Amz-Signature", payload, lookup, opt.Keys, true)
}

// finishV4 looks up the secret and compares signatures. Only if the
// straightforward canonical request fails does it try the two variants real
// clients produce: the path URI-encoded a second time (the AWS SDKs do that
// for every service but S3) and the Host without a default port (SDKs strip
// :80/:443 before signing, some proxies add them back).
func finishV4(r *Request, a *v4Auth, amzDate string, q []qparam, skip, payload string, lookup SecretLookup, keys *KeyCache, presigned bool) (Result, error) {
	secret, ok := lookup(a.akid)
	if !ok || secret == "" { // an empty secret would let anyone sign
		return Result{}, fail(KindUnknownKey, fmt.Sprintf("the access key ID %q does not exist or is disabled", truncate(a.akid, 128)))
	}
	key := keys.signingKey(secret, a)
	sortParams(q)

	uris := [2]string{r.Path}
	if needsEscape(r.Path) {
		uris[1] = escape(r.Path, true)
	}
	hosts := [2]string{r.Host}
	if h, found := stripDefaultPort(r.Host); found {
		hosts[1] = h
	}
	for i, uri := range uris {
		if i > 0 && uri == "" {
			continue
		}
		for j, host := range hosts {
			if j > 0 && host == "" {
				continue
			}
			sum := signatureV4(r, a, amzDate, q, skip, payload, uri, host, key[:], nil)
			if hmac.Equal(sum[:], a.sig[:]) {
				return Result{AccessKeyID: a.akid, Version: 4, Region: a.region, Service: a.service, Presigned: presigned}, nil
			}
		}
	}
	return Result{}, mismatchV4(r, a, amzDate, q, skip, payload, key[:])
}

// signingKey derives kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func signingKey(secret string, a *v4Auth) [sha256.Size]byte {
	var stack [128]byte
	k := hmacString(append(append(stack[:0], "AWS4"...), secret...), a.date)
	k = hmacString(k[:], a.region)
	k = hmacString(k[:], a.service)
	return hmacString(k[:], scopeTerminator)
}

func needsEscape(path string) bool {
	for i := 0; i < len(path); i++ {
		if !unreserved(path[i]) && path[i] != '/' {
			return true
		}
	}
	return false
}

func stripDefaultPort(host string) (string, bool) {
	for _, p := range [...]string{":80", ":443"} {
		if h, ok := strings.CutSuffix(host, p); ok && h != "" && !strings.HasSuffix(h, ":") {
			return h, true
		}
	}
	return "", false
}

// signatureV4 builds the canonical request and string to sign in stack
// buffers and returns the signature. If debug is non-nil it receives both
// texts (used only to explain a mismatch).
func signatureV4(r *Request, a *v4Auth, amzDate string, q []qparam, skip, payload, uri, host string, key []byte, debug *[2]string) [sha256.Size]byte {
	var stack [1024]byte
	buf := append(stack[:0], r.Method...)
	buf = append(buf, '\n')
	buf = append(buf, uri...)
	buf = append(buf, '\n')
	buf = appendQuerySorted(buf, q, skip)
	buf = append(buf, '\n')
	for rest := a.signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		buf = append(buf, name...)
		buf = append(buf, ':')
		if name == "host" {
			buf = appendHeaderValue(buf, host)
		} else {
			vals, _ := headerValues(r.Header, name)
			for i, v := range vals {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = appendHeaderValue(buf, v)
			}
		}
		buf = append(buf, '\n')
	}
	buf = append(buf, '\n')
	buf = append(buf, a.signedHeaders...)
	buf = append(buf, '\n')
	buf = append(buf, payload...)
	creq := sha256.Sum256(buf)

	var stsStack [256]byte
	sts := append(stsStack[:0], algoV4+"\n"...)
	sts = append(sts, amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, a.scope...)
	sts = append(sts, '\n')
	sts = appendHex(sts, creq[:])
	if debug != nil {
		debug[0], debug[1] = string(buf), string(sts)
	}
	return hmacSHA256(key, sts)
}

// appendQuerySorted appends an already sorted query.
func appendQuerySorted(dst []byte, q []qparam, skip string) []byte {
	first := true
	for i := range q {
		if skip != "" && q[i].key == skip {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		dst = append(dst, q[i].key...)
		dst = append(dst, '=')
		dst = append(dst, q[i].val...)
	}
	return dst
}

// appendHeaderValue trims the value and collapses runs of spaces, exactly as
// aws-sdk-go-v2 does (tabs inside a value are kept).
func appendHeaderValue(dst []byte, v string) []byte {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		dst = append(dst, v[i])
	}
	return dst
}

// headerValues finds a header by its lower-case name without allocating:
// http.Header keys are canonical when they come from net/http, so build the
// canonical key in a stack buffer; fall back to a case-insensitive scan for
// hand-built headers.
func headerValues(h http.Header, lower string) ([]string, bool) {
	var stack [64]byte
	if len(lower) <= len(stack) {
		k := stack[:len(lower)]
		up := true
		for i := 0; i < len(lower); i++ {
			c := lower[i]
			if up && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			k[i] = c
			up = c == '-'
		}
		if v, ok := h[string(k)]; ok {
			return v, true
		}
	}
	var found []string
	var keys []string
	for k := range h {
		if strings.EqualFold(k, lower) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, false
	}
	slices.Sort(keys) // deterministic order if a hand-built Header has two spellings
	for _, k := range keys {
		found = append(found, h[k]...)
	}
	return found, true
}

// mismatchV4 explains a failed comparison without revealing the expected
// signature: it echoes the canonical request and string to sign the server
// computed (both built only from what the client sent) so the client can diff
// them against its own.
func mismatchV4(r *Request, a *v4Auth, amzDate string, q []qparam, skip, payload string, key []byte) *Error {
	var dbg [2]string
	signatureV4(r, a, amzDate, q, skip, payload, r.Path, r.Host, key, &dbg)
	var b strings.Builder
	b.WriteString("the request signature we calculated does not match the signature you provided; check your secret access key and signing method")
	for rest := a.signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		if _, ok := headerValues(r.Header, name); name != "host" && !ok {
			fmt.Fprintf(&b, "; signed header %q is not present in the request", name)
		}
	}
	fmt.Fprintf(&b, ". The canonical request was %s and the string to sign was %s",
		strconv.Quote(truncate(dbg[0], 2048)), strconv.Quote(dbg[1]))
	return fail(KindMismatch, b.String())
}
