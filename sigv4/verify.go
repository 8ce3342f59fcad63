package sigv4

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Request is what the server hands over after reading the body once. The
// server must pass what the client sent, not a normalised form: r.Host (or,
// behind a trusted proxy, the public host the client used), r.URL.EscapedPath(),
// r.URL.RawQuery and r.Header unmodified. Form must hold the body's
// parameters only (r.PostForm, not r.Form, which also contains the query).
type Request struct {
	Method     string      // "GET"/"POST"
	Host       string      // Host header as received (may include :port); for SigV2 behind a proxy the server passes the public host here
	Path       string      // URL EscapedPath as received ("/" if empty)
	RawQuery   string      // URL RawQuery as received
	Header     http.Header // as received; Host is taken from the Host field, not from here
	Form       url.Values  // parsed form body when Content-Type is application/x-www-form-urlencoded, else nil (SigV2 POST reads params from here)
	BodySHA256 string      // lower-case hex SHA-256 of the body, computed by the server ("" = empty body); a client's X-Amz-Content-Sha256 must equal it
}

// SecretLookup finds the secret for an access key id. ok=false means unknown
// key (or disabled user).
type SecretLookup func(accessKeyID string) (secret string, ok bool)

// Options carries the server's policy and the injected clock.
type Options struct {
	Now           time.Time     // injected clock; required (the zero time makes every request expired)
	MaxSkew       time.Duration // default 15m if zero
	AllowV2       bool
	Region        string // server's region, used only when EnforceRegion
	EnforceRegion bool   // if true, a SigV4 scope region != Region is ErrWrongRegion
	// Service, if set, is the service a SigV4 scope must name, else the
	// request fails with ErrWrongService. The first label of the Host is
	// accepted too: that is what a client signs when it derives the
	// service from the endpoint's name as <service>.<region>.amazonaws.com
	// (boto 2 signs "127" for 127.0.0.1), and a signature is bound to the
	// host anyway.
	Service string
	// Keys, if set, remembers derived signing keys across requests.
	Keys *KeyCache
}

// Result describes a request whose signature verified.
type Result struct {
	AccessKeyID string
	Version     int    // 2 or 4
	Region      string // scope region for v4, whatever the client declared (boto 2 at 127.0.0.1 declares "0"); "" for v2
	Service     string // scope service for v4, as the client declared it; "" for v2
	Presigned   bool
}

const defaultSkew = 15 * time.Minute

// Verify checks the request's signature. It returns a Result only when the
// signature is valid for the secret lookup returns; every failure is an
// *Error. Checks run cheapest first (format, clock, region) and lookup is
// called at most once, after them.
//
// An Authorization header means SigV4; X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-SignedHeaders or X-Amz-Signature in the query means a presigned
// SigV4 URL; AWSAccessKeyId, Signature, SignatureVersion or SignatureMethod
// in the query or Form means SigV2. None of these is KindMissing.
func Verify(r Request, lookup SecretLookup, opt Options) (Result, error) {
	if opt.MaxSkew <= 0 {
		opt.MaxSkew = defaultSkew
	}
	if r.Path == "" {
		r.Path = "/"
	}

	authz, hasAuthz, err := authorizationHeader(r.Header)
	if err != nil {
		return Result{}, err
	}
	var stack [16]qparam
	q, qok := parseQuery(r.RawQuery, stack[:0])
	if name, ok := securityToken(r.Header, q, r.Form); ok {
		return Result{}, fail(KindSecurityToken, "the request carries a session token ("+name+"), but this endpoint issues none and accepts only an access key ID and its secret access key; remove the token (unset AWS_SESSION_TOKEN, or aws_session_token in the credentials file)")
	}
	presigned := hasPresignParam(q)

	switch {
	case hasAuthz && presigned:
		return Result{}, fail(KindMalformed, "the request has both an Authorization header and X-Amz-* signature query parameters; use only one")
	case hasAuthz || presigned:
		if !qok {
			return Result{}, fail(KindMalformed, "the query string is not valid URL encoding")
		}
		if hasAuthz {
			return verifyHeader(&r, authz, q, lookup, &opt)
		}
		return verifyPresigned(&r, q, lookup, &opt)
	case looksV2(q, r.Form):
		return verifyV2(&r, lookup, &opt)
	case !qok:
		return Result{}, fail(KindMalformed, "the query string is not valid URL encoding")
	}
	msg := "the request has no credentials: sign it with AWS Signature Version 4 (Authorization header or presigned X-Amz-* query parameters)"
	if opt.AllowV2 {
		msg += " or Signature Version 2"
	}
	return Result{}, fail(KindMissing, msg)
}

// authorizationHeader returns the single Authorization value. A blank header
// counts as absent: it carries no credentials.
func authorizationHeader(h http.Header) (string, bool, error) {
	vals := h["Authorization"]
	switch {
	case len(vals) > 1:
		return "", false, fail(KindMalformed, "the request has more than one Authorization header")
	case len(vals) == 0 || strings.TrimSpace(vals[0]) == "":
		return "", false, nil
	}
	return strings.TrimSpace(vals[0]), true, nil
}

var presignKeys = [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders"}

// hasPresignParam: any one of the identifying parameters means the client
// meant to presign, so a partial set is reported as malformed rather than as
// missing credentials.
func hasPresignParam(q []qparam) bool {
	for i := range q {
		for _, k := range presignKeys {
			if q[i].key == k {
				return true
			}
		}
	}
	return false
}

// tokenKeys are the names a session token travels under: the SigV4 header
// and presign parameter, and SigV2's parameter.
var tokenKeys = [...]string{"X-Amz-Security-Token", "SecurityToken"}

// securityToken finds a session token wherever a client puts one: the
// X-Amz-Security-Token header, or a token parameter in the query or form.
func securityToken(h http.Header, q []qparam, form url.Values) (string, bool) {
	if _, ok := headerValues(h, "x-amz-security-token"); ok {
		return "X-Amz-Security-Token header", true
	}
	for _, k := range tokenKeys {
		for i := range q {
			if q[i].key == k {
				return k + " parameter", true
			}
		}
		if _, ok := form[k]; ok {
			return k + " parameter", true
		}
	}
	return "", false
}

var v2Keys = [...]string{"AWSAccessKeyId", "Signature", "SignatureVersion", "SignatureMethod"}

func looksV2(q []qparam, form url.Values) bool {
	for _, k := range v2Keys {
		for i := range q {
			if q[i].key == k {
				return true
			}
		}
		if _, ok := form[k]; ok {
			return true
		}
	}
	return false
}
