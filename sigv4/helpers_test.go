package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAKID   = "AKIASTUDENT0000001"
	testSecret = "studentsecret0000000000000000000000001"
	otherAKID  = "AKIAOTHER000000002"
	otherSec   = "othersecret00000000000000000000000002"

	// The AWS SigV4 test suite's credentials and time.
	suiteAKID   = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

var suiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

func testLookup(akid string) (string, bool) {
	switch akid {
	case testAKID:
		return testSecret, true
	case otherAKID:
		return otherSec, true
	case suiteAKID:
		return suiteSecret, true
	case "AKIAEMPTYSECRET":
		return "", true
	}
	return "", false
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// toServer sends req over an in-memory wire and reads it back the way
// net/http's server does (Host promoted out of Header, header values
// trimmed, Content-Length kept), then fills in Request as the server would.
func toServer(t testing.TB, req *http.Request) Request {
	t.Helper()
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatalf("writing request: %v", err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatalf("reading request back: %v\n%s", err, wire.String())
	}
	body, err := io.ReadAll(sr.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return serverRequest(sr, body)
}

// serverRequest is what the real server is expected to do with an incoming
// request and its body.
func serverRequest(sr *http.Request, body []byte) Request {
	r := Request{
		Method:     sr.Method,
		Host:       sr.Host,
		Path:       sr.URL.EscapedPath(),
		RawQuery:   sr.URL.RawQuery,
		Header:     sr.Header,
		BodySHA256: sha256Hex(body),
	}
	if mt, _, _ := mime.ParseMediaType(sr.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		r.Form, _ = url.ParseQuery(string(body))
	}
	return r
}

// sdkSign signs req in place with aws-sdk-go-v2's signer, the oracle.
func sdkSign(t testing.TB, req *http.Request, body []byte, akid, secret, region, service string, at time.Time) {
	t.Helper()
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		req, sha256Hex(body), service, region, at)
	if err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// sdkPresign presigns req and returns the request a client would send.
func sdkPresign(t testing.TB, req *http.Request, body []byte, akid, secret, region, service string, at time.Time) *http.Request {
	t.Helper()
	signedURL, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		req, sha256Hex(body), service, region, at)
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	out, err := http.NewRequest(req.Method, signedURL, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest(%q): %v", signedURL, err)
	}
	if len(body) == 0 {
		out.Body, out.ContentLength = nil, 0
	}
	for k, vs := range hdr {
		if k == "Host" {
			out.Host = vs[0]
			continue
		}
		out.Header[k] = vs
	}
	return out
}

func newReq(t testing.TB, method, rawURL string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatalf("NewRequest(%q): %v", rawURL, err)
	}
	return req
}

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// refAuthorization is an independent, deliberately naive SigV4 signer
// written from the spec, for requests the SDK cannot produce (Date header,
// unusual separators). TestRefSignerMatchesSuite pins it to AWS's vectors.
// headers are lower-case name -> value already trimmed as the client signs them.
func refAuthorization(method, uri, canonicalQuery string, headers map[string]string, payload, akid, secret, amzDate, region, service string) string {
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var ch strings.Builder
	for _, n := range names {
		ch.WriteString(n + ":" + headers[n] + "\n")
	}
	signed := strings.Join(names, ";")
	creq := strings.Join([]string{method, uri, canonicalQuery, ch.String(), signed, payload}, "\n")
	scope := amzDate[:8] + "/" + region + "/" + service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256Hex([]byte(creq))
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	k := mac([]byte("AWS4"+secret), amzDate[:8])
	k = mac(k, region)
	k = mac(k, service)
	k = mac(k, "aws4_request")
	return "AWS4-HMAC-SHA256 Credential=" + akid + "/" + scope + ", SignedHeaders=" + signed + ", Signature=" + hex.EncodeToString(mac(k, sts))
}
