package sigv4

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var sdkBase = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

var scopes = []struct{ region, service string }{
	{"us-east-1", "ec2"},
	{"eu-west-3", "ec2"},
	{"0", "127"}, // boto 2.49 signing for http://127.0.0.1:PORT
	{"us-west-2", "service"},
}

var hosts = []string{"127.0.0.1:5000", "ec2.us-east-1.amazonaws.com", "localhost:8080", "[::1]:9000", "localhost:80"}

var paths = []string{"", "/", "/a/b", "/a%20b/", "/%E1%88%B4", "/x:y@z;w", "/~user/.."}

// odd mixes characters that stress the encoders: reserved, '+', '%', space,
// UTF-8, and ';' which url.ParseQuery treats specially.
var odd = []string{"", "a", "x y", "1+1", "a/b", "a=b&c", "~._-", "ሴ", "100%", "*", "'q'", "semi;colon", "tab\tx", "Z"}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func randQuery(rng *rand.Rand) url.Values {
	q := url.Values{}
	for range rng.IntN(4) {
		k := pick(rng, []string{"Action", "Version", "Filter.1.Name", "a b", "ሴ", "Key+", "k"}) + pick(rng, odd)
		q.Add(k, pick(rng, odd))
	}
	return q
}

// genRequest makes a random request a client could send, with its body.
func genRequest(t *testing.T, rng *rand.Rand) (*http.Request, []byte) {
	method := pick(rng, []string{"GET", "POST"})
	host := pick(rng, hosts)
	u := "http://" + host + pick(rng, paths)
	if q := randQuery(rng); len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body []byte
	if method == "POST" && rng.IntN(4) > 0 {
		form := url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}}
		for k, vs := range randQuery(rng) {
			form[k] = vs
		}
		body = []byte(form.Encode())
	}
	req := newReq(t, method, u, body)
	if len(body) > 0 {
		req.Header.Set("Content-Type", pick(rng, []string{"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8"}))
	}
	if rng.IntN(2) == 0 {
		req.Header.Set("X-Odd-Spacing", "  a   b  c\t d   ")
	}
	if rng.IntN(3) == 0 {
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", " two  three ")
	}
	if rng.IntN(3) == 0 {
		req.Header.Set("Amz-Sdk-Invocation-Id", fmt.Sprintf("%08x", rng.Uint32()))
	}
	return req, body
}

// TestSDKSignedAccepted: everything aws-sdk-go-v2's SignHTTP produces must
// verify, with the scope the client chose.
func TestSDKSignedAccepted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		req, body := genRequest(t, rng)
		sc := pick(rng, scopes)
		at := sdkBase.Add(time.Duration(rng.IntN(86400)) * time.Second)
		sdkSign(t, req, body, testAKID, testSecret, sc.region, sc.service, at)
		r := toServer(t, req)
		now := at.Add(time.Duration(rng.IntN(int(2*defaultSkew/time.Second))-int(defaultSkew/time.Second)) * time.Second)
		res, err := Verify(r, testLookup, Options{Now: now})
		if err != nil {
			t.Fatalf("case %d %s http://%s%s?%s: got %v, want success", i, r.Method, r.Host, r.Path, r.RawQuery, err)
		}
		if want := (Result{AccessKeyID: testAKID, Version: 4, Region: sc.region, Service: sc.service}); res != want {
			t.Fatalf("case %d: got %+v, want %+v", i, res, want)
		}
	}
}

// TestSDKPresignedAccepted: same for PresignHTTP URLs.
func TestSDKPresignedAccepted(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		req, body := genRequest(t, rng)
		expires := 1 + rng.IntN(maxPresignAge)
		q := req.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(expires))
		req.URL.RawQuery = q.Encode()
		if rng.IntN(3) == 0 {
			req.Header.Set("X-Amz-Target", "hoisted-into-the-query")
		}
		sc := pick(rng, scopes)
		at := sdkBase.Add(time.Duration(rng.IntN(86400)) * time.Second)
		sent := sdkPresign(t, req, body, testAKID, testSecret, sc.region, sc.service, at)
		r := toServer(t, sent)
		now := at.Add(time.Duration(rng.IntN(expires+1)) * time.Second)
		res, err := Verify(r, testLookup, Options{Now: now})
		if err != nil {
			t.Fatalf("case %d %s http://%s%s?%s: got %v, want success", i, r.Method, r.Host, r.Path, r.RawQuery, err)
		}
		if want := (Result{AccessKeyID: testAKID, Version: 4, Region: sc.region, Service: sc.service, Presigned: true}); res != want {
			t.Fatalf("case %d: got %+v, want %+v", i, res, want)
		}
	}
}

// sdkEC2Post is the request the Go SDK's EC2 client sends, signed.
func sdkEC2Post(t testing.TB, at time.Time) Request {
	body := []byte("Action=DescribeInstances&InstanceId.1=i-0123456789abcdef0&Version=2016-11-15")
	req := newReq(t, "POST", "http://127.0.0.1:5000/", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Amz-Sdk-Invocation-Id", "5f2b6c4e-8f9a-4b8e-9a57-0d1f2e3c4b5a")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0 os/linux lang/go#1.26 api/ec2#1.348.0")
	sdkSign(t, req, body, testAKID, testSecret, "us-east-1", "ec2", at)
	return toServer(t, req)
}

func sdkPresignedGet(t testing.TB, at time.Time, expires int) Request {
	req := newReq(t, "GET", "http://127.0.0.1:5000/?Action=DescribeRegions&Version=2016-11-15&X-Amz-Expires="+strconv.Itoa(expires), nil)
	return toServer(t, sdkPresign(t, req, nil, testAKID, testSecret, "us-east-1", "ec2", at))
}

func cloneReq(r Request) Request {
	r.Header = r.Header.Clone()
	if r.Form != nil {
		f := url.Values{}
		for k, v := range r.Form {
			f[k] = append([]string(nil), v...)
		}
		r.Form = f
	}
	return r
}

func setQuery(r *Request, key, val string) {
	q, _ := url.ParseQuery(r.RawQuery)
	q.Set(key, val)
	r.RawQuery = q.Encode()
}

// TestSDKTampered changes one thing in an SDK-signed request and checks the
// kind of failure. want 0 means the change must still verify.
func TestSDKTampered(t *testing.T) {
	at := sdkBase
	cases := []struct {
		name      string
		presigned bool
		opt       func(*Options)
		lookup    SecretLookup
		mutate    func(*Request)
		want      Kind
	}{
		{name: "untouched", mutate: func(*Request) {}},
		{name: "untouched presigned", presigned: true, mutate: func(*Request) {}},
		{name: "body changed", mutate: func(r *Request) {
			r.BodySHA256 = sha256Hex([]byte("Action=TerminateInstances&InstanceId.1=i-0123456789abcdef0&Version=2016-11-15"))
		}, want: KindMismatch},
		{name: "body hash empty means empty body", mutate: func(r *Request) { r.BodySHA256 = "" }, want: KindMismatch},
		{name: "signed header changed", mutate: func(r *Request) { r.Header.Set("Amz-Sdk-Request", "attempt=2; max=3") }, want: KindMismatch},
		{name: "signed header removed", mutate: func(r *Request) { r.Header.Del("Content-Type") }, want: KindMismatch},
		{name: "signed header duplicated", mutate: func(r *Request) { r.Header.Add("Content-Type", "text/plain") }, want: KindMismatch},
		{name: "unsigned header changed", mutate: func(r *Request) { r.Header.Set("User-Agent", "curl/8") }},
		{name: "unsigned header added", mutate: func(r *Request) { r.Header.Set("X-Forwarded-For", "10.0.0.1") }},
		{name: "signed header extra inner spaces", mutate: func(r *Request) {
			r.Header.Set("Amz-Sdk-Request", "attempt=1;    max=3")
		}},
		{name: "query param added", mutate: func(r *Request) { r.RawQuery = "DryRun=true" }, want: KindMismatch},
		{name: "path changed", mutate: func(r *Request) { r.Path = "/admin" }, want: KindMismatch},
		{name: "empty path is /", mutate: func(r *Request) { r.Path = "" }},
		{name: "method changed", mutate: func(r *Request) { r.Method = "PUT" }, want: KindMismatch},
		{name: "host changed", mutate: func(r *Request) { r.Host = "127.0.0.1:5001" }, want: KindMismatch},
		{name: "host case changed", mutate: func(r *Request) { r.Host = "LOCALHOST:5000" }, want: KindMismatch},
		{name: "wrong secret", lookup: func(string) (string, bool) { return otherSec, true }, mutate: func(*Request) {}, want: KindMismatch},
		{name: "unknown key", lookup: func(string) (string, bool) { return "", false }, mutate: func(*Request) {}, want: KindUnknownKey},
		{name: "empty secret treated as unknown", lookup: func(string) (string, bool) { return "", true }, mutate: func(*Request) {}, want: KindUnknownKey},
		{name: "date changed same day", mutate: func(r *Request) { r.Header.Set("X-Amz-Date", "20260314T151000Z") }, want: KindMismatch},
		{name: "date changed other day", mutate: func(r *Request) { r.Header.Set("X-Amz-Date", "20260315T150926Z") }, want: KindMalformed},
		{name: "date garbled", mutate: func(r *Request) { r.Header.Set("X-Amz-Date", "2026-03-14T15:09:26Z") }, want: KindMalformed},
		{name: "date missing", mutate: func(r *Request) { r.Header.Del("X-Amz-Date") }, want: KindMalformed},
		{name: "signature flipped", mutate: func(r *Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-1]+string("10"[a[len(a)-1]&1]))
		}, want: KindMismatch},
		{name: "signature upper-case hex", mutate: func(r *Request) {
			a := r.Header.Get("Authorization")
			i := strings.Index(a, "Signature=") + len("Signature=")
			r.Header.Set("Authorization", a[:i]+strings.ToUpper(a[i:]))
		}},
		{name: "authorization separators without spaces", mutate: func(r *Request) {
			r.Header.Set("Authorization", strings.ReplaceAll(r.Header.Get("Authorization"), ", ", ","))
		}},
		{name: "authorization components reordered", mutate: func(r *Request) {
			a := strings.TrimPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
			p := strings.Split(a, ", ")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 "+p[2]+" , "+p[0]+",,"+p[1]+", ")
		}},
		{name: "authorization algorithm changed", mutate: func(r *Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1))
		}, want: KindMalformed},
		{name: "two authorization headers", mutate: func(r *Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, want: KindMalformed},
		{name: "content sha header matches body", mutate: func(r *Request) { r.Header.Set("X-Amz-Content-Sha256", r.BodySHA256) }},
		// The client's spelling of the hash is what goes into the canonical
		// request (see TestContentSHAUpperCase), so changing it breaks the signature.
		{name: "content sha header re-spelt", mutate: func(r *Request) { r.Header.Set("X-Amz-Content-Sha256", strings.ToUpper(r.BodySHA256)) }, want: KindMismatch},
		{name: "content sha header differs from body", mutate: func(r *Request) { r.Header.Set("X-Amz-Content-Sha256", emptySHA256) }, want: KindMismatch},
		{name: "unsigned payload refused on header-signed", mutate: func(r *Request) { r.Header.Set("X-Amz-Content-Sha256", unsignedPayload) }, want: KindMismatch},
		{name: "clock skew just inside", opt: func(o *Options) { o.Now = at.Add(15 * time.Minute) }, mutate: func(*Request) {}},
		{name: "clock behind beyond skew", opt: func(o *Options) { o.Now = at.Add(15*time.Minute + time.Second) }, mutate: func(*Request) {}, want: KindExpired},
		{name: "clock ahead beyond skew", opt: func(o *Options) { o.Now = at.Add(-16 * time.Minute) }, mutate: func(*Request) {}, want: KindExpired},
		{name: "custom skew", opt: func(o *Options) { o.Now, o.MaxSkew = at.Add(2*time.Minute), time.Minute }, mutate: func(*Request) {}, want: KindExpired},
		{name: "region enforced and right", opt: func(o *Options) { o.EnforceRegion, o.Region = true, "us-east-1" }, mutate: func(*Request) {}},
		{name: "region enforced and wrong", opt: func(o *Options) { o.EnforceRegion, o.Region = true, "eu-west-1" }, mutate: func(*Request) {}, want: KindWrongRegion},
		{name: "region not enforced", opt: func(o *Options) { o.Region = "eu-west-1" }, mutate: func(*Request) {}},
		{name: "proxy added default port", mutate: func(r *Request) {}},
		{name: "header plus presign params", mutate: func(r *Request) { r.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256" }, want: KindMalformed},

		{name: "presigned query param changed", presigned: true, mutate: func(r *Request) { setQuery(r, "Action", "DescribeInstances") }, want: KindMismatch},
		{name: "presigned query re-encoded equivalently", presigned: true, mutate: func(r *Request) {
			r.RawQuery = strings.ReplaceAll(r.RawQuery, "%2F", "%2f") + "&"
		}},
		{name: "presigned body added", presigned: true, mutate: func(r *Request) { r.BodySHA256 = sha256Hex([]byte("Action=TerminateInstances")) }, want: KindMismatch},
		{name: "presigned unsigned payload with empty body", presigned: true, mutate: func(r *Request) { r.Header.Set("X-Amz-Content-Sha256", unsignedPayload) }, want: KindMismatch},
		{name: "presigned unsigned payload with body", presigned: true, mutate: func(r *Request) {
			r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
			r.BodySHA256 = sha256Hex([]byte("Action=TerminateInstances"))
		}, want: KindMismatch},
		{name: "presigned expired", presigned: true, opt: func(o *Options) { o.Now = at.Add(300*time.Second + time.Second) }, mutate: func(*Request) {}, want: KindExpired},
		{name: "presigned at expiry", presigned: true, opt: func(o *Options) { o.Now = at.Add(300 * time.Second) }, mutate: func(*Request) {}},
		{name: "presigned from the future", presigned: true, opt: func(o *Options) { o.Now = at.Add(-16 * time.Minute) }, mutate: func(*Request) {}, want: KindExpired},
		{name: "presigned slightly in the future", presigned: true, opt: func(o *Options) { o.Now = at.Add(-14 * time.Minute) }, mutate: func(*Request) {}},
		{name: "presigned expires changed", presigned: true, mutate: func(r *Request) { setQuery(r, "X-Amz-Expires", "3600") }, want: KindMismatch},
		{name: "presigned expires too long", presigned: true, mutate: func(r *Request) { setQuery(r, "X-Amz-Expires", "604801") }, want: KindMalformed},
		{name: "presigned expires zero", presigned: true, mutate: func(r *Request) { setQuery(r, "X-Amz-Expires", "0") }, want: KindMalformed},
		{name: "presigned expires signed number", presigned: true, mutate: func(r *Request) { setQuery(r, "X-Amz-Expires", "+300") }, want: KindMalformed},
		{name: "presigned missing expires", presigned: true, mutate: func(r *Request) {
			q, _ := url.ParseQuery(r.RawQuery)
			q.Del("X-Amz-Expires")
			r.RawQuery = q.Encode()
		}, want: KindMalformed},
		{name: "presigned missing signature", presigned: true, mutate: func(r *Request) {
			q, _ := url.ParseQuery(r.RawQuery)
			q.Del("X-Amz-Signature")
			r.RawQuery = q.Encode()
		}, want: KindMalformed},
		{name: "presigned duplicate signature", presigned: true, mutate: func(r *Request) { r.RawQuery += "&X-Amz-Signature=00" }, want: KindMalformed},
		{name: "presigned wrong algorithm", presigned: true, mutate: func(r *Request) { setQuery(r, "X-Amz-Algorithm", "AWS4-HMAC-SHA512") }, want: KindMalformed},
		{name: "presigned credential garbled", presigned: true, mutate: func(r *Request) { setQuery(r, "X-Amz-Credential", testAKID+"/20260314/us-east-1/ec2") }, want: KindMalformed},
		{name: "presigned signed headers without host", presigned: true, mutate: func(r *Request) { setQuery(r, "X-Amz-SignedHeaders", "x-amz-date") }, want: KindMalformed},
		{name: "presigned other key", presigned: true, mutate: func(r *Request) {
			setQuery(r, "X-Amz-Credential", otherAKID+"/20260314/us-east-1/ec2/aws4_request")
		}, want: KindMismatch},
		{name: "presigned wrong region enforced", presigned: true, opt: func(o *Options) { o.EnforceRegion, o.Region = true, "ap-south-1" }, mutate: func(*Request) {}, want: KindWrongRegion},
		{name: "presigned plus authorization header", presigned: true, mutate: func(r *Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
		}, want: KindMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			if tc.presigned {
				r = sdkPresignedGet(t, at, 300)
			} else {
				r = sdkEC2Post(t, at)
			}
			r = cloneReq(r)
			if tc.name == "proxy added default port" {
				// The SDK signs "localhost" for http://localhost:80/; a
				// proxy may hand the server "localhost:80".
				req := newReq(t, "GET", "http://localhost:80/?Action=DescribeRegions", nil)
				sdkSign(t, req, nil, testAKID, testSecret, "us-east-1", "ec2", at)
				r = toServer(t, req)
				r.Host = "localhost:80"
			}
			tc.mutate(&r)
			opt := Options{Now: at.Add(time.Second)}
			if tc.opt != nil {
				tc.opt(&opt)
			}
			lookup := tc.lookup
			if lookup == nil {
				lookup = testLookup
			}
			res, err := Verify(r, lookup, opt)
			if got := kindOf(err); got != tc.want {
				t.Fatalf("Verify: got kind %v (err %v), want kind %v", got, err, tc.want)
			}
			if err == nil && (res.AccessKeyID != testAKID || res.Version != 4 || res.Presigned != tc.presigned) {
				t.Errorf("Verify: got %+v, want key %s, version 4, presigned %v", res, testAKID, tc.presigned)
			}
			if err != nil {
				checkMessageSafe(t, err)
			}
		})
	}
}

// checkMessageSafe: messages go to clients, so they must never include a
// secret.
func checkMessageSafe(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, s := range []string{testSecret, otherSec, suiteSecret} {
		if strings.Contains(msg, s) {
			t.Errorf("error message leaks a secret: %q", msg)
		}
	}
	if e, ok := err.(*Error); !ok || e.Msg == "" {
		t.Errorf("error %v: want *Error with a message", err)
	}
}

// TestDateHeaderFallback: a SigV4 request dated by the RFC 1123 Date header
// instead of X-Amz-Date (the SDK always sends X-Amz-Date, so this one is
// signed with the reference signer).
func TestDateHeaderFallback(t *testing.T) {
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	date := at.Format(http.TimeFormat)
	authz := refAuthorization("GET", "/", "Action=DescribeRegions", map[string]string{"date": date, "host": "127.0.0.1:5000"},
		emptySHA256, testAKID, testSecret, "20260314T150926Z", "us-east-1", "ec2")
	r := Request{Method: "GET", Host: "127.0.0.1:5000", Path: "/", RawQuery: "Action=DescribeRegions",
		Header: http.Header{"Date": {date}, "Authorization": {authz}}}
	if _, err := Verify(r, testLookup, Options{Now: at}); err != nil {
		t.Fatalf("Verify: got %v, want success", err)
	}
	r.Header.Set("Date", "yesterday")
	if _, err := Verify(r, testLookup, Options{Now: at}); kindOf(err) != KindMalformed {
		t.Errorf("bad Date: got %v, want kind %v", err, KindMalformed)
	}
}

// TestContentSHAUpperCase: a client that sends and signs its body hash in
// upper-case hex is accepted; the hash is still checked against the body.
func TestContentSHAUpperCase(t *testing.T) {
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	body := []byte("Action=DescribeRegions&Version=2016-11-15")
	up := strings.ToUpper(sha256Hex(body))
	authz := refAuthorization("POST", "/", "", map[string]string{"host": "h", "x-amz-content-sha256": up, "x-amz-date": "20260314T150926Z"},
		up, testAKID, testSecret, "20260314T150926Z", "us-east-1", "ec2")
	r := Request{Method: "POST", Host: "h", Path: "/", BodySHA256: sha256Hex(body),
		Header: http.Header{"X-Amz-Date": {"20260314T150926Z"}, "X-Amz-Content-Sha256": {up}, "Authorization": {authz}}}
	if _, err := Verify(r, testLookup, Options{Now: at}); err != nil {
		t.Fatalf("Verify: got %v, want success", err)
	}
	r.BodySHA256 = emptySHA256
	if _, err := Verify(r, testLookup, Options{Now: at}); kindOf(err) != KindMismatch {
		t.Errorf("other body: got %v, want kind %v", err, KindMismatch)
	}
}

// TestScopeService: with Options.Service set, the SDK's signature for
// another service is refused, header-signed or presigned; the service a
// client derives from the host's first label (boto 2) is accepted.
func TestScopeService(t *testing.T) {
	at := sdkBase
	cases := []struct {
		name, host, service string
		want                Kind
	}{
		{"ec2", "127.0.0.1:5000", "ec2", 0},
		{"s3", "127.0.0.1:5000", "s3", KindWrongService},
		{"sts", "ec2.example.edu", "sts", KindWrongService},
		{"service of another host", "localhost:5000", "127", KindWrongService},
		{"boto 2 at an IP address", "127.0.0.1:5000", "127", 0},
		{"boto 2 at a host name", "econe.example.edu:8773", "econe", 0},
		{"boto 2 at a host name on the default port", "econe.example.edu", "econe", 0},
		{"boto 2 at localhost", "localhost:5000", "localhost", 0},
	}
	for _, tc := range cases {
		for _, presigned := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s presigned=%v", tc.name, presigned), func(t *testing.T) {
				req := newReq(t, "GET", "http://"+tc.host+"/?Action=DescribeRegions&Version=2016-11-15&X-Amz-Expires=300", nil)
				if presigned {
					req = sdkPresign(t, req, nil, testAKID, testSecret, "us-east-1", tc.service, at)
				} else {
					sdkSign(t, req, nil, testAKID, testSecret, "us-east-1", tc.service, at)
				}
				_, err := Verify(toServer(t, req), testLookup, Options{Now: at, Service: "ec2"})
				if got := kindOf(err); got != tc.want {
					t.Fatalf("Verify: got kind %v (err %v), want kind %v", got, err, tc.want)
				}
				if err != nil {
					checkMessageSafe(t, err)
					if want := "correct service: 'ec2'"; !strings.Contains(err.Error(), want) {
						t.Errorf("message: got %q, want it to contain %q", err, want)
					}
				}
				// Without Service every scope verifies, as before.
				if _, err := Verify(toServer(t, req), testLookup, Options{Now: at}); err != nil {
					t.Errorf("Verify without Service: got %v, want success", err)
				}
			})
		}
	}
}

// TestSecurityTokenRefused: a session token is refused wherever the client
// puts it, even on a signature that is otherwise valid (the SDK signs the
// token in: as a header, or as a presign parameter).
func TestSecurityTokenRefused(t *testing.T) {
	at := sdkBase
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: "FwoGZXIvYXdzEXAMPLETOKEN"}
	sdkHeader := func(t *testing.T) Request {
		body := []byte("Action=DescribeRegions&Version=2016-11-15")
		req := newReq(t, "POST", "http://127.0.0.1:5000/", body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "ec2", "us-east-1", at); err != nil {
			t.Fatalf("SignHTTP: %v", err)
		}
		return toServer(t, req)
	}
	sdkPresigned := func(t *testing.T) Request {
		req := newReq(t, "GET", "http://127.0.0.1:5000/?Action=DescribeRegions&Version=2016-11-15&X-Amz-Expires=300", nil)
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, sha256Hex(nil), "ec2", "us-east-1", at)
		if err != nil {
			t.Fatalf("PresignHTTP: %v", err)
		}
		return toServer(t, newReq(t, "GET", u, nil))
	}
	v2 := func(where string) func(*testing.T) Request {
		return func(*testing.T) Request {
			p := v2VectorParams()
			p.Set("SecurityToken", "FwoGZXIvYXdzEXAMPLETOKEN")
			signV2("GET", "127.0.0.1:5000", "/", p, testSecret)
			r := Request{Method: "GET", Host: "127.0.0.1:5000", Path: "/", RawQuery: p.Encode(), Header: http.Header{}}
			if where == "form" {
				r.Method, r.RawQuery, r.Form = "POST", "", p
			}
			return r
		}
	}
	cases := []struct {
		name    string
		req     func(*testing.T) Request
		wantMsg string
	}{
		{"SDK header", sdkHeader, "X-Amz-Security-Token header"},
		{"SDK presigned", sdkPresigned, "X-Amz-Security-Token parameter"},
		{"SigV2 query", v2("query"), "SecurityToken parameter"},
		{"SigV2 form", v2("form"), "SecurityToken parameter"},
		{"hand-built lower-case header", func(t *testing.T) Request {
			r := sdkEC2Post(t, at)
			r.Header = r.Header.Clone()
			r.Header["x-amz-security-token"] = []string{"t"}
			return r
		}, "X-Amz-Security-Token header"},
		{"token without credentials", func(*testing.T) Request {
			return Request{Method: "GET", Host: "h", Path: "/", RawQuery: "Action=DescribeRegions&X-Amz-Security-Token=t"}
		}, "X-Amz-Security-Token parameter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lookups := 0
			lookup := func(akid string) (string, bool) { lookups++; return testLookup(akid) }
			_, err := Verify(tc.req(t), lookup, Options{Now: at, AllowV2: true})
			if got := kindOf(err); got != KindSecurityToken {
				t.Fatalf("Verify: got kind %v (err %v), want kind %v", got, err, KindSecurityToken)
			}
			checkMessageSafe(t, err)
			if !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), "AWS_SESSION_TOKEN") {
				t.Errorf("message: got %q, want it to name %q and AWS_SESSION_TOKEN", err, tc.wantMsg)
			}
			if lookups != 0 {
				t.Errorf("got %d secret lookups, want none: a token is refused before any key is looked up", lookups)
			}
		})
	}
}
