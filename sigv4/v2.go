package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"net/url"
	"slices"
	"strings"
	"time"
)

// StringToSignV2 returns the SigV2 string to sign:
//
//	VERB\nlowercase(host)\npath\ncanonical query
//
// where the canonical query is every parameter except Signature, sorted by
// name (byte order, then by value), each name and value encoded with the
// RFC 3986 rules (space as %20). host is used exactly as given apart from
// case, port included: boto 2 drops a default port and so does the Host
// header it sends.
func StringToSignV2(method, host, path string, params url.Values) string {
	if path == "" {
		path = "/"
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	buf := make([]byte, 0, 256)
	buf = append(buf, method...)
	buf = append(buf, '\n')
	buf = append(buf, strings.ToLower(host)...)
	buf = append(buf, '\n')
	buf = append(buf, path...)
	buf = append(buf, '\n')
	first := true
	for _, k := range keys {
		vals := slices.Clone(params[k])
		slices.Sort(vals)
		for _, v := range vals {
			if !first {
				buf = append(buf, '&')
			}
			first = false
			buf = appendEscape(buf, k, false)
			buf = append(buf, '=')
			buf = appendEscape(buf, v, false)
		}
	}
	return string(buf)
}

// parseV2Time accepts the ISO 8601 forms SigV2 clients send: with or without
// a zone (no zone means UTC, which is what boto 2 means) and with or without
// fractional seconds.
func parseV2Time(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	if t, err := time.Parse("2006-01-02T15:04:05", v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func verifyV2(r *Request, lookup SecretLookup, opt *Options) (Result, error) {
	params, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		return Result{}, fail(KindMalformed, "the query string is not valid URL encoding")
	}
	for k, vs := range r.Form {
		params[k] = append(params[k], vs...)
	}
	// Query API parameters are never repeated, and a repeat would leave the
	// server and the signature free to disagree about which value counts.
	for k, vs := range params {
		if len(vs) > 1 {
			return Result{}, fail(KindMalformed, fmt.Sprintf("parameter %q is given more than once", truncate(k, 64)))
		}
	}
	get := func(k string) (string, bool) {
		vs, ok := params[k]
		if !ok {
			return "", false
		}
		return vs[0], true
	}

	sv, ok := get("SignatureVersion")
	if !ok {
		return Result{}, fail(KindMalformed, "SignatureVersion is missing: only Signature Version 4 and SignatureVersion=2 are supported")
	}
	if sv != "2" {
		return Result{}, fail(KindMalformed, fmt.Sprintf("SignatureVersion %q is not supported: only Signature Version 4 and SignatureVersion=2 are supported", truncate(sv, 16)))
	}
	if !opt.AllowV2 {
		return Result{}, fail(KindV2Disabled, "Signature Version 2 is disabled on this server; sign requests with Signature Version 4")
	}
	akid, _ := get("AWSAccessKeyId")
	sigParam, _ := get("Signature")
	method, _ := get("SignatureMethod")
	switch {
	case akid == "":
		return Result{}, fail(KindMalformed, "SigV2 request is missing AWSAccessKeyId")
	case sigParam == "":
		return Result{}, fail(KindMalformed, "SigV2 request is missing Signature")
	}
	var newHash func() hash.Hash
	switch method {
	case "HmacSHA256":
		newHash = sha256.New
	case "HmacSHA1":
		newHash = sha1.New
	default:
		return Result{}, fail(KindMalformed, fmt.Sprintf("SignatureMethod %q is not supported; use HmacSHA256 or HmacSHA1", truncate(method, 32)))
	}
	// A '+' the client forgot to percent-encode arrives as a space.
	sig, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(sigParam, " ", "+"))
	if err != nil {
		return Result{}, fail(KindMalformed, "Signature is not valid base64")
	}

	ts, hasTS := get("Timestamp")
	exp, hasExp := get("Expires")
	switch {
	case hasTS && hasExp:
		return Result{}, fail(KindMalformed, "SigV2 request has both Timestamp and Expires; send exactly one")
	case !hasTS && !hasExp:
		return Result{}, fail(KindMalformed, "SigV2 request needs a Timestamp (or Expires) parameter")
	case hasTS:
		t, ok := parseV2Time(ts)
		if !ok {
			return Result{}, fail(KindMalformed, fmt.Sprintf("Timestamp %q is not an ISO 8601 time like 2006-01-02T15:04:05Z", truncate(ts, 40)))
		}
		if d := opt.Now.Sub(t); d > opt.MaxSkew || d < -opt.MaxSkew {
			return Result{}, fail(KindExpired, fmt.Sprintf("Timestamp %s is more than %s from the server time %s; fix the client's clock",
				t.UTC().Format(time.RFC3339), opt.MaxSkew, opt.Now.UTC().Format(time.RFC3339)))
		}
	default:
		t, ok := parseV2Time(exp)
		if !ok {
			return Result{}, fail(KindMalformed, fmt.Sprintf("Expires %q is not an ISO 8601 time like 2006-01-02T15:04:05Z", truncate(exp, 40)))
		}
		if err := checkExpiry(t, opt); err != nil {
			return Result{}, err
		}
	}

	secret, ok := lookup(akid)
	if !ok || secret == "" {
		return Result{}, fail(KindUnknownKey, fmt.Sprintf("the access key ID %q does not exist or is disabled", truncate(akid, 128)))
	}
	sts := StringToSignV2(r.Method, r.Host, r.Path, params)
	m := hmac.New(newHash, []byte(secret))
	m.Write([]byte(sts))
	if !hmac.Equal(m.Sum(nil), sig) {
		return Result{}, fail(KindMismatch, "the request signature we calculated does not match the signature you provided; check your secret access key and signing method. The string to sign was "+
			fmt.Sprintf("%q", truncate(sts, 2048)))
	}
	return Result{AccessKeyID: akid, Version: 2}, nil
}
