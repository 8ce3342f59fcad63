package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// parseSuiteRequest reads a request in the AWS SigV4 test suite's text form
// ("METHOD target HTTP/1.1", "Name:value" lines, blank line, body). The
// target may contain raw spaces and UTF-8, which http.ReadRequest rejects, so
// this small parser does what a lenient server front end would.
func parseSuiteRequest(t *testing.T, text string) Request {
	t.Helper()
	head, body, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	first := lines[0]
	method, rest, _ := strings.Cut(first, " ")
	target := rest[:strings.LastIndex(rest, " ")]
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parsing target %q: %v", target, err)
	}
	r := Request{Method: method, Path: u.EscapedPath(), RawQuery: u.RawQuery, Header: http.Header{}, BodySHA256: sha256Hex([]byte(body))}
	for _, l := range lines[1:] {
		name, val, _ := strings.Cut(l, ":")
		val = strings.Trim(val, " \t") // what net/textproto does
		if http.CanonicalHeaderKey(name) == "Host" {
			r.Host = val
			continue
		}
		r.Header.Add(name, val)
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Form, _ = url.ParseQuery(body)
	}
	return r
}

// AWS SigV4 test suite (awslabs/aws-c-auth tests/aws-signing-test-suite/v4),
// credentials AKIDEXAMPLE, region us-east-1, service "service", time
// 2015-08-30T12:36:00Z. "header" cases are Authorization-signed, "query"
// cases are presigned (X-Amz-Expires=3600).
var suiteVectors = []struct {
	name      string
	presigned bool
	request   string
}{
	{"get-vanilla", false, "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n\n"},
	{"get-vanilla-query-order-key-case", false, "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500\n\n"},
	{"get-vanilla-query-unreserved", false, "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197\nX-Amz-Date:20150830T123600Z\n\n"},
	{"get-vanilla-utf8-query", false, "GET /?ሴ=bar HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04\nX-Amz-Date:20150830T123600Z\n\n"},
	{"get-utf8", false, "GET /ሴ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85\n\n"},
	{"get-unreserved", false, "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f\nX-Amz-Date:20150830T123600Z\n\n"},
	{"get-space-unnormalized", false, "GET /example space/ HTTP/1.1\nHost:example.amazonaws.com\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741\nX-Amz-Date:20150830T123600Z\n\n"},
	{"get-header-value-trim", false, "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736\nX-Amz-Date:20150830T123600Z\n\n"},
	{"get-header-key-duplicate", false, "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea\nX-Amz-Date:20150830T123600Z\n\n"},
	{"post-vanilla", false, "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b\n\n"},
	{"post-x-www-form-urlencoded", false, "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\nContent-Length:13\nx-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b\nX-Amz-Date:20150830T123600Z\n\nParam1=value1"},
	{"get-vanilla-query-order-key-case (presigned)", true, "GET /?Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\n"},
	{"get-vanilla-utf8-query (presigned)", true, "GET /?ሴ=bar&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=0bdd809b1519ac4f0c1dc3540e2cc46bd0c7f778eda408b2ebf3b913d21ff600 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\n"},
}

func TestAWSSuiteVectors(t *testing.T) {
	for _, tc := range suiteVectors {
		t.Run(tc.name, func(t *testing.T) {
			r := parseSuiteRequest(t, tc.request)
			opt := Options{Now: suiteTime.Add(time.Minute)}
			res, err := Verify(r, testLookup, opt)
			if err != nil {
				t.Fatalf("Verify: got %v, want success", err)
			}
			want := Result{AccessKeyID: suiteAKID, Version: 4, Region: "us-east-1", Service: "service", Presigned: tc.presigned}
			if res != want {
				t.Errorf("Verify: got %+v, want %+v", res, want)
			}

			// Flipping one hex digit of the published signature must fail.
			bad := parseSuiteRequest(t, flipLastSigDigit(tc.request))
			if _, err := Verify(bad, testLookup, opt); kindOf(err) != KindMismatch {
				t.Errorf("tampered signature: got %v, want kind %v", err, KindMismatch)
			}
		})
	}
}

func flipLastSigDigit(req string) string {
	for _, marker := range []string{"Signature=", "X-Amz-Signature="} {
		if i := strings.LastIndex(req, marker); i >= 0 {
			j := i + len(marker) + 63
			c := byte('0')
			if req[j] == '0' {
				c = '1'
			}
			return req[:j] + string(c) + req[j+1:]
		}
	}
	panic("no signature in " + req)
}

// The reference signer must reproduce AWS's published get-vanilla and
// post-x-www-form-urlencoded signatures, so tests built on it are not just
// the implementation checking itself.
func TestRefSignerMatchesSuite(t *testing.T) {
	got := refAuthorization("GET", "/", "", map[string]string{"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
		emptySHA256, suiteAKID, suiteSecret, "20150830T123600Z", "us-east-1", "service")
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	if got != want {
		t.Errorf("get-vanilla: got %q, want %q", got, want)
	}
	body := "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
	got = refAuthorization("POST", "/", "", map[string]string{"content-length": "13", "content-type": "application/x-www-form-urlencoded",
		"host": "example.amazonaws.com", "x-amz-content-sha256": body, "x-amz-date": "20150830T123600Z"},
		body, suiteAKID, suiteSecret, "20150830T123600Z", "us-east-1", "service")
	if !strings.HasSuffix(got, "Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b") {
		t.Errorf("post-x-www-form-urlencoded: got %q", got)
	}
}

// The SigV2 vector from a boto 2.49 DescribeInstances against 127.0.0.1:5000.
const (
	v2VectorSTS = "GET\n127.0.0.1:5000\n/\nAWSAccessKeyId=AKIASTUDENT0000001&Action=DescribeInstances&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2026-11-21T23%3A46%3A12&Version=2010-08-31"
	v2VectorSig = "MUaBfqf6onIWcPc8SVKjQGcf5mQbMSH9Pxh4fNQpOIk="
)

var v2VectorTime = time.Date(2026, 11, 21, 23, 46, 12, 0, time.UTC)

func v2VectorParams() url.Values {
	return url.Values{
		"AWSAccessKeyId":   {testAKID},
		"Action":           {"DescribeInstances"},
		"SignatureMethod":  {"HmacSHA256"},
		"SignatureVersion": {"2"},
		"Timestamp":        {"2026-11-21T23:46:12"},
		"Version":          {"2010-08-31"},
	}
}

func v2VectorRequest() Request {
	p := v2VectorParams()
	p.Set("Signature", v2VectorSig)
	return Request{Method: "GET", Host: "127.0.0.1:5000", Path: "/", RawQuery: p.Encode(), Header: http.Header{}}
}

func TestSigV2Vector(t *testing.T) {
	if got := StringToSignV2("GET", "127.0.0.1:5000", "/", v2VectorParams()); got != v2VectorSTS {
		t.Errorf("StringToSignV2: got %q, want %q", got, v2VectorSTS)
	}
	// Signature is excluded and the host lower-cased.
	p := v2VectorParams()
	p.Set("Signature", "ignored")
	if got := StringToSignV2("GET", "127.0.0.1:5000", "", p); got != v2VectorSTS {
		t.Errorf("StringToSignV2 with Signature and empty path: got %q, want %q", got, v2VectorSTS)
	}
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(v2VectorSTS))
	if got := base64.StdEncoding.EncodeToString(m.Sum(nil)); got != v2VectorSig {
		t.Fatalf("vector HMAC: got %s, want %s", got, v2VectorSig)
	}

	for _, now := range []time.Time{v2VectorTime, v2VectorTime.Add(-14 * time.Minute), v2VectorTime.Add(14 * time.Minute)} {
		res, err := Verify(v2VectorRequest(), testLookup, Options{Now: now, AllowV2: true})
		if err != nil {
			t.Fatalf("Verify at %s: got %v, want success", now, err)
		}
		if want := (Result{AccessKeyID: testAKID, Version: 2}); res != want {
			t.Errorf("Verify: got %+v, want %+v", res, want)
		}
	}
}

func TestStringToSignV2Encoding(t *testing.T) {
	p := url.Values{"b": {"x y"}, "a": {"1+1=2/3~ሴ"}, "A": {"*"}}
	got := StringToSignV2("POST", "EC2.Example.COM", "/path", p)
	want := "POST\nec2.example.com\n/path\nA=%2A&a=1%2B1%3D2%2F3~%E1%88%B4&b=x%20y"
	if got != want {
		t.Errorf("StringToSignV2: got %q, want %q", got, want)
	}
}
