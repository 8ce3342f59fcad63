package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// signV2 signs params in place the way boto 2 does.
func signV2(method, host, path string, params url.Values, secret string) {
	newHash := sha256.New
	if params.Get("SignatureMethod") == "HmacSHA1" {
		newHash = func() hash.Hash { return sha1.New() }
	}
	m := hmac.New(newHash, []byte(secret))
	m.Write([]byte(StringToSignV2(method, host, path, params)))
	params.Set("Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

func TestVerifyV2(t *testing.T) {
	now := v2VectorTime
	get := func(edit func(url.Values)) Request {
		p := v2VectorParams()
		edit(p)
		signV2("GET", "127.0.0.1:5000", "/", p, testSecret)
		return Request{Method: "GET", Host: "127.0.0.1:5000", Path: "/", RawQuery: p.Encode(), Header: http.Header{}}
	}
	post := func(edit func(url.Values)) Request {
		p := v2VectorParams()
		edit(p)
		signV2("POST", "127.0.0.1:5000", "/", p, testSecret)
		body := p.Encode()
		return Request{Method: "POST", Host: "127.0.0.1:5000", Path: "/", Form: p, BodySHA256: sha256Hex([]byte(body)),
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=UTF-8"}}}
	}
	keep := func(url.Values) {}
	cases := []struct {
		name    string
		req     Request
		opt     func(*Options)
		lookup  SecretLookup
		want    Kind
		wantMsg string
	}{
		{name: "vector", req: v2VectorRequest()},
		{name: "GET re-signed", req: get(keep)},
		{name: "POST form body", req: post(keep)},
		{name: "POST form plus query", req: func() Request {
			r := post(func(p url.Values) { p.Set("Extra", "in the query") })
			r.Form.Del("Extra")
			r.RawQuery = "Extra=in+the+query"
			return r
		}()},
		{name: "HmacSHA1", req: get(func(p url.Values) { p.Set("SignatureMethod", "HmacSHA1") })},
		{name: "timestamp with Z", req: get(func(p url.Values) { p.Set("Timestamp", "2026-11-21T23:46:12Z") })},
		{name: "timestamp with fraction", req: get(func(p url.Values) { p.Set("Timestamp", "2026-11-21T23:46:12.123456Z") })},
		{name: "timestamp with fraction no zone", req: get(func(p url.Values) { p.Set("Timestamp", "2026-11-21T23:46:12.5") })},
		{name: "timestamp with offset", req: get(func(p url.Values) { p.Set("Timestamp", "2026-11-22T00:46:12+01:00") })},
		{name: "timestamp garbled", req: get(func(p url.Values) { p.Set("Timestamp", "21/11/2026") }), want: KindMalformed},
		{name: "timestamp too old", req: v2VectorRequest(), opt: func(o *Options) { o.Now = now.Add(16 * time.Minute) }, want: KindExpired},
		{name: "timestamp in the future", req: v2VectorRequest(), opt: func(o *Options) { o.Now = now.Add(-16 * time.Minute) }, want: KindExpired},
		{name: "expires in the future", req: get(func(p url.Values) { p.Del("Timestamp"); p.Set("Expires", "2026-11-22T00:00:00Z") })},
		{name: "expires past", req: get(func(p url.Values) { p.Del("Timestamp"); p.Set("Expires", "2026-11-21T23:46:11Z") }), want: KindExpired},
		// Expires is bounded like X-Amz-Expires: at most 7 days ahead, plus the clock skew.
		{name: "expires at the bound", req: get(func(p url.Values) { p.Del("Timestamp"); p.Set("Expires", "2026-11-29T00:01:12Z") })},
		{name: "expires just beyond the bound", req: get(func(p url.Values) { p.Del("Timestamp"); p.Set("Expires", "2026-11-29T00:01:13Z") }), want: KindMalformed, wantMsg: "604800 seconds"},
		{name: "expires in the year 2999", req: get(func(p url.Values) { p.Del("Timestamp"); p.Set("Expires", "2999-01-01T00:00:00Z") }), want: KindMalformed, wantMsg: "2999-01-01T00:00:00Z"},
		{name: "timestamp and expires", req: get(func(p url.Values) { p.Set("Expires", "2026-11-22T00:00:00Z") }), want: KindMalformed},
		{name: "neither timestamp nor expires", req: get(func(p url.Values) { p.Del("Timestamp") }), want: KindMalformed},
		{name: "SignatureVersion 1", req: get(func(p url.Values) { p.Set("SignatureVersion", "1") }), want: KindMalformed, wantMsg: "SignatureVersion=2"},
		{name: "SignatureVersion 0", req: get(func(p url.Values) { p.Set("SignatureVersion", "0") }), want: KindMalformed, wantMsg: "Signature Version 4"},
		{name: "SignatureVersion missing", req: get(func(p url.Values) { p.Del("SignatureVersion") }), want: KindMalformed, wantMsg: "SignatureVersion=2"},
		{name: "v2 disabled", req: v2VectorRequest(), opt: func(o *Options) { o.AllowV2 = false }, want: KindV2Disabled},
		{name: "SignatureMethod unsupported", req: get(func(p url.Values) { p.Set("SignatureMethod", "HmacMD5") }), want: KindMalformed},
		{name: "SignatureMethod missing", req: get(func(p url.Values) { p.Del("SignatureMethod") }), want: KindMalformed},
		{name: "AWSAccessKeyId missing", req: get(func(p url.Values) { p.Del("AWSAccessKeyId") }), want: KindMalformed},
		{name: "Signature missing", req: func() Request {
			r := v2VectorRequest()
			q, _ := url.ParseQuery(r.RawQuery)
			q.Del("Signature")
			r.RawQuery = q.Encode()
			return r
		}(), want: KindMalformed},
		{name: "Signature not base64", req: func() Request {
			r := v2VectorRequest()
			setQuery(&r, "Signature", "not*base64")
			return r
		}(), want: KindMalformed},
		{name: "Signature with unencoded plus", req: func() Request {
			for ts := 0; ; ts++ { // find a timestamp whose signature contains '+'
				r := get(func(p url.Values) {
					p.Set("Timestamp", v2VectorTime.Add(time.Duration(ts)*time.Second).Format("2006-01-02T15:04:05"))
				})
				q, _ := url.ParseQuery(r.RawQuery)
				if sig := q.Get("Signature"); strings.Contains(sig, "+") {
					q.Del("Signature")
					r.RawQuery = q.Encode() + "&Signature=" + strings.ReplaceAll(url.QueryEscape(sig), "%2B", "+")
					return r
				}
			}
		}()},
		{name: "param tampered", req: func() Request {
			r := v2VectorRequest()
			setQuery(&r, "Action", "TerminateInstances")
			return r
		}(), want: KindMismatch},
		{name: "param added", req: func() Request { r := v2VectorRequest(); r.RawQuery += "&DryRun=true"; return r }(), want: KindMismatch},
		{name: "param duplicated", req: func() Request { r := v2VectorRequest(); r.RawQuery += "&Action=DescribeInstances"; return r }(), want: KindMalformed},
		{name: "POST body tampered", req: func() Request { r := post(keep); r.Form.Set("Action", "RunInstances"); return r }(), want: KindMismatch},
		{name: "method tampered", req: func() Request { r := v2VectorRequest(); r.Method = "POST"; return r }(), want: KindMismatch},
		{name: "host upper-case", req: func() Request {
			p := v2VectorParams()
			signV2("GET", "ec2.example.com:8773", "/", p, testSecret)
			return Request{Method: "GET", Host: "EC2.Example.COM:8773", Path: "/", RawQuery: p.Encode()}
		}()},
		{name: "host other port", req: func() Request { r := v2VectorRequest(); r.Host = "127.0.0.1:5001"; return r }(), want: KindMismatch},
		{name: "path other", req: func() Request { r := v2VectorRequest(); r.Path = "/services/Cloud"; return r }(), want: KindMismatch},
		{name: "empty path is /", req: func() Request { r := v2VectorRequest(); r.Path = ""; return r }()},
		{name: "wrong secret", req: v2VectorRequest(), lookup: func(string) (string, bool) { return otherSec, true }, want: KindMismatch},
		{name: "unknown key", req: v2VectorRequest(), lookup: func(string) (string, bool) { return "", false }, want: KindUnknownKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt := Options{Now: now, AllowV2: true}
			if tc.opt != nil {
				tc.opt(&opt)
			}
			lookup := tc.lookup
			if lookup == nil {
				lookup = testLookup
			}
			res, err := Verify(tc.req, lookup, opt)
			if got := kindOf(err); got != tc.want {
				t.Fatalf("Verify: got kind %v (err %v), want kind %v", got, err, tc.want)
			}
			if err != nil {
				checkMessageSafe(t, err)
				if !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("message: got %q, want it to mention %q", err, tc.wantMsg)
				}
				return
			}
			if want := (Result{AccessKeyID: testAKID, Version: 2}); res != want {
				t.Errorf("Verify: got %+v, want %+v", res, want)
			}
		})
	}
}

func TestVerifyNoOrBrokenCredentials(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		req  Request
		opt  Options
		want Kind
	}{
		{name: "nothing", req: Request{Method: "GET", Host: "h", Path: "/", RawQuery: "Action=DescribeRegions"}, want: KindMissing},
		{name: "nothing POST", req: Request{Method: "POST", Host: "h", Path: "/", Form: url.Values{"Action": {"DescribeRegions"}}}, want: KindMissing},
		{name: "nil header", req: Request{}, want: KindMissing},
		{name: "blank authorization", req: Request{Method: "GET", Host: "h", Header: http.Header{"Authorization": {"  "}}}, want: KindMissing},
		{name: "timestamp alone is no credential", req: Request{Method: "GET", Host: "h", RawQuery: "Timestamp=2026-01-02T03:04:05Z"}, want: KindMissing},
		{name: "bad query encoding", req: Request{Method: "GET", Host: "h", RawQuery: "Action=%zz"}, want: KindMalformed},
		{name: "bad query encoding with authorization", req: Request{Method: "GET", Host: "h", RawQuery: "a=%", Header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 x"}}}, want: KindMalformed},
		{name: "S3 SigV2 header", req: Request{Method: "GET", Host: "h", Header: http.Header{"Authorization": {"AWS AKIA:c2ln"}}}, want: KindMalformed},
		{name: "SigV4a header", req: Request{Method: "GET", Host: "h", Header: http.Header{"Authorization": {"AWS4-ECDSA-P256-SHA256 Credential=a"}}}, want: KindMalformed},
		{name: "v2 params in form only", req: Request{Method: "POST", Host: "h", Form: url.Values{"AWSAccessKeyId": {testAKID}}}, opt: Options{AllowV2: true}, want: KindMalformed},
		{name: "v2 params while disabled", req: v2VectorRequest(), want: KindV2Disabled},
		{name: "presign params partial", req: Request{Method: "GET", Host: "h", RawQuery: "X-Amz-Credential=a"}, want: KindMalformed},
		{name: "presign signature alone", req: Request{Method: "GET", Host: "h", RawQuery: "X-Amz-Signature=" + strings.Repeat("0", 64)}, want: KindMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt := tc.opt
			opt.Now = now
			_, err := Verify(tc.req, testLookup, opt)
			if got := kindOf(err); got != tc.want {
				t.Fatalf("Verify: got kind %v (err %v), want kind %v", got, err, tc.want)
			}
			checkMessageSafe(t, err)
		})
	}
}

func TestErrorIs(t *testing.T) {
	err := error(fail(KindExpired, "too late"))
	if !errors.Is(err, ErrExpired) {
		t.Errorf("errors.Is(%v, ErrExpired): got false, want true", err)
	}
	if errors.Is(err, ErrMismatch) {
		t.Errorf("errors.Is(%v, ErrMismatch): got true, want false", err)
	}
	if got, want := err.Error(), "sigv4: request expired: too late"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	if got := Kind(99).String(); got != "unknown error" {
		t.Errorf("Kind(99).String(): got %q", got)
	}
}
