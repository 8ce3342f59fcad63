package sigv4

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, tc := range authHeaderCases {
		f.Add(tc.header)
	}
	for _, v := range suiteVectors {
		if i := strings.Index(v.request, "Authorization:"); i >= 0 {
			line, _, _ := strings.Cut(v.request[i+len("Authorization:"):], "\n")
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			if err.Kind != KindMalformed || err.Msg == "" {
				t.Fatalf("parseAuthorization(%q): got %#v, want a malformed error with a message", h, err)
			}
			return
		}
		if a.scope != a.date+"/"+a.region+"/"+a.service+"/"+scopeTerminator {
			t.Fatalf("parseAuthorization(%q): scope %q does not match its parts %+v", h, a.scope, a)
		}
		if checkSignedHeaders(a.signedHeaders) != nil {
			t.Fatalf("parseAuthorization(%q): accepted invalid SignedHeaders %q", h, a.signedHeaders)
		}
		// Whatever was accepted must re-serialise in SDK form to the same thing.
		again := algoV4 + " Credential=" + a.akid + "/" + a.scope + ", SignedHeaders=" + a.signedHeaders + ", Signature=" + hex.EncodeToString(a.sig[:])
		b, err := parseAuthorization(again)
		if err != nil || b != a {
			t.Fatalf("round trip of %q via %q: got %+v, %v; want %+v", h, again, b, err, a)
		}
	})
}

// FuzzVerifyQuery sends arbitrary raw query strings (and, for POST,
// arbitrary form bodies) through Verify. It must never panic, must only
// return *Error values with a known Kind and a message free of secrets, and
// its canonical query must agree with the SDK's algorithm.
func FuzzVerifyQuery(f *testing.F) {
	now := v2VectorTime
	f.Add(v2VectorRequest().RawQuery, "")
	f.Add("", v2VectorRequest().RawQuery)
	presigned := sdkPresignedGet(f, now, 300).RawQuery
	f.Add(presigned, "")
	f.Add(presigned+"&X-Amz-Signature=1", "")
	f.Add(strings.Replace(presigned, "X-Amz-Expires=300", "X-Amz-Expires=99999999999999999999", 1), "")
	f.Add(strings.Replace(presigned, "%2F", "/", -1), "")
	for _, v := range suiteVectors {
		if v.presigned {
			target, _, _ := strings.Cut(strings.TrimPrefix(v.request, "GET /?"), " ")
			f.Add(target, "")
		}
	}
	for _, tc := range queryCases {
		f.Add(tc.raw, "")
	}
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a/b/c/d/aws4_request", "")
	f.Add("SignatureVersion=1&AWSAccessKeyId=x&Signature=y", "")
	f.Add("", "AWSAccessKeyId="+testAKID+"&SignatureVersion=2&SignatureMethod=HmacSHA1&Signature=AAAA&Expires=2026-11-21T23:59:59Z")
	f.Add("a=%", "b=%zz")

	f.Fuzz(func(t *testing.T, rawQuery, body string) {
		r := Request{Method: "GET", Host: "127.0.0.1:5000", Path: "/", RawQuery: rawQuery, Header: http.Header{}}
		if body != "" {
			r.Method = "POST"
			r.Form, _ = url.ParseQuery(body)
			r.BodySHA256 = sha256Hex([]byte(body))
		}
		res, err := Verify(r, testLookup, Options{Now: now, AllowV2: true})
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Kind < KindMissing || e.Kind > KindSecurityToken || e.Msg == "" {
				t.Fatalf("Verify(%q, %q): got %#v, want *Error with a known kind and a message", rawQuery, body, err)
			}
			for _, s := range []string{testSecret, otherSec, suiteSecret} {
				if strings.Contains(e.Msg, s) {
					t.Fatalf("Verify(%q): message leaks a secret: %q", rawQuery, e.Msg)
				}
			}
		} else {
			if _, known := testLookup(res.AccessKeyID); !known || (res.Version != 2 && res.Version != 4) {
				t.Fatalf("Verify(%q, %q): got success %+v", rawQuery, body, res)
			}
		}

		got, ok := canonicalQueryOf(rawQuery)
		ref, refOK := refCanonicalQuery(rawQuery)
		if strings.Contains(rawQuery, ";") {
			return // url.ParseQuery rejects ';', this package signs it as data
		}
		if ok != refOK || ok && got != ref {
			t.Fatalf("canonical query of %q: got %q (ok=%v), SDK algorithm gives %q (ok=%v)", rawQuery, got, ok, ref, refOK)
		}
	})
}

// FuzzAmzDate holds amzDate to what it replaced: time.Parse in
// amzDateLayout and a round trip through Format.
func FuzzAmzDate(f *testing.F) {
	for _, v := range []string{
		"20150830T123600Z", "20240229T235959Z", "20230229T000000Z", "20151330T123600Z",
		"20150830T243600Z", "20150830T126000Z", "20150830T123660Z", "20150800T123600Z",
		"00000101T000000Z", "99991231T235959Z", "2015083OT123600Z", "20150830t123600Z",
		"20150830T123600z", "20150830T123600", "20150830T123600ZZ", "+0150830T123600Z",
		"20150830 123600Z", "2015-08-30T12:36:00Z", "", "20150830T1236 0Z",
	} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		want, err := time.Parse(amzDateLayout, v)
		wantOK := err == nil && want.Format(amzDateLayout) == v
		got, ok := amzDate(v)
		if ok != wantOK || (ok && !got.Equal(want)) {
			t.Fatalf("amzDate(%q) = %v, %v; time.Parse and Format give %v, %v", v, got, ok, want, wantOK)
		}
	})
}
