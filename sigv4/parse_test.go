package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/url"
	"sort"
	"strings"
	"testing"
)

const goodSig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"

var authHeaderCases = []struct {
	name   string
	header string
	ok     bool
}{
	{"sdk style", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + goodSig, true},
	{"no spaces", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request,SignedHeaders=host;x-amz-date,Signature=" + goodSig, true},
	{"extra spaces and commas", "AWS4-HMAC-SHA256   Credential=AKID/20150830/us-east-1/ec2/aws4_request ,  SignedHeaders=host;x-amz-date,,Signature=" + goodSig + ", ", true},
	{"tabs", "AWS4-HMAC-SHA256\tCredential=AKID/20150830/us-east-1/ec2/aws4_request,\tSignedHeaders=host,\tSignature=" + goodSig, true},
	{"reordered", "AWS4-HMAC-SHA256 Signature=" + goodSig + ", Credential=AKID/20150830/0/127/aws4_request, SignedHeaders=host", true},
	{"upper-case signature", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + strings.ToUpper(goodSig), true},
	{"algorithm only", "AWS4-HMAC-SHA256", false},
	{"algorithm glued", "AWS4-HMAC-SHA256Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig, false},
	{"wrong algorithm", "AWS4-HMAC-SHA1 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig, false},
	{"lower-case algorithm", "aws4-hmac-sha256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig, false},
	{"missing credential", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + goodSig, false},
	{"missing signed headers", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, Signature=" + goodSig, false},
	{"missing signature", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host", false},
	{"duplicate component", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, SignedHeaders=host, Signature=" + goodSig, false},
	{"unknown component", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig + ", Foo=bar", false},
	{"component without =", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature", false},
	{"space around =", "AWS4-HMAC-SHA256 Credential = AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig, false},
	{"credential short", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/aws4_request, SignedHeaders=host, Signature=" + goodSig, false},
	{"credential long", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/x/aws4_request, SignedHeaders=host, Signature=" + goodSig, false},
	{"credential bad terminator", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_requests, SignedHeaders=host, Signature=" + goodSig, false},
	{"credential empty key", "AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig, false},
	{"credential empty region", "AWS4-HMAC-SHA256 Credential=AKID/20150830//ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig, false},
	{"credential bad date", "AWS4-HMAC-SHA256 Credential=AKID/2015-08-30/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig, false},
	{"signed headers without host", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=x-amz-date, Signature=" + goodSig, false},
	{"signed headers unsorted", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=x-amz-date;host, Signature=" + goodSig, false},
	{"signed headers repeated", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host;host, Signature=" + goodSig, false},
	{"signed headers upper-case", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=Host, Signature=" + goodSig, false},
	{"signed headers trailing ;", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host;, Signature=" + goodSig, false},
	{"signed headers empty", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=, Signature=" + goodSig, false},
	{"signature short", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig[:62], false},
	{"signature not hex", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + goodSig[:63] + "g", false},
}

func TestParseAuthorization(t *testing.T) {
	for _, tc := range authHeaderCases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseAuthorization(tc.header)
			if (err == nil) != tc.ok {
				t.Fatalf("parseAuthorization: got err %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if err.Kind != KindMalformed {
					t.Errorf("kind: got %v, want %v", err.Kind, KindMalformed)
				}
				return
			}
			if a.akid != "AKID" || a.date != "20150830" || !strings.HasPrefix(a.scope, "20150830/") {
				t.Errorf("parsed: got %+v", a)
			}
		})
	}
}

// TestHMACMatchesStdlib pins the allocation-free HMAC to crypto/hmac for
// keys and messages on both sides of the block size and stack buffers.
func TestHMACMatchesStdlib(t *testing.T) {
	for _, kl := range []int{0, 1, 32, 63, 64, 65, 100, 200} {
		for _, ml := range []int{0, 1, 55, 56, 64, 255, 256, 257, 1000} {
			key := []byte(strings.Repeat("k", kl))
			msg := []byte(strings.Repeat("m", ml))
			m := hmac.New(sha256.New, key)
			m.Write(msg)
			want := m.Sum(nil)
			got := hmacSHA256(key, msg)
			if !hmac.Equal(got[:], want) {
				t.Errorf("key %d bytes, msg %d bytes: got %x, want %x", kl, ml, got, want)
			}
			if s := hmacString(key, string(msg)); s != got {
				t.Errorf("hmacString key %d msg %d: got %x, want %x", kl, ml, s, got)
			}
		}
	}
}

// refCanonicalQuery is the SDK's algorithm: url.ParseQuery, then encode each
// name and value (url.QueryEscape with %20 for space), sort after encoding.
func refCanonicalQuery(raw string) (string, bool) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", false
	}
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, strings.ReplaceAll(url.QueryEscape(k), "+", "%20")+"="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		ki, vi, _ := strings.Cut(pairs[i], "=")
		kj, vj, _ := strings.Cut(pairs[j], "=")
		if ki != kj {
			return ki < kj
		}
		return vi < vj
	})
	return strings.Join(pairs, "&"), true
}

func canonicalQueryOf(raw string) (string, bool) {
	q, ok := parseQuery(raw, nil)
	if !ok {
		return "", false
	}
	sortParams(q)
	return string(appendQuerySorted(nil, q, "")), true
}

var queryCases = []struct{ name, raw, want string }{
	{"empty", "", ""},
	{"sorted by name", "b=2&a=1&A=0", "A=0&a=1&b=2"},
	{"sorted by value", "a=2&a=10&a=1", "a=1&a=10&a=2"},
	{"sort after encoding", "k=a/b&k=a-b", "k=a%2Fb&k=a-b"},
	{"plus is space", "a=x+y", "a=x%20y"},
	{"encoded plus", "a=x%2By", "a=x%2By"},
	{"lower-case hex", "a=%2f", "a=%2F"},
	{"needless escape", "a=%41%7e", "a=A~"},
	{"no value", "a&b=", "a=&b="},
	{"empty segments", "&&a=1&&", "a=1"},
	{"utf8", "ሴ=bar", "%E1%88%B4=bar"},
	{"reserved", "a=!*'():@&b=$,/?[]", "a=%21%2A%27%28%29%3A%40&b=%24%2C%2F%3F%5B%5D"},
	{"semicolon is data", "a=1;b=2", "a=1%3Bb%3D2"},
	{"equals in value", "a=b=c", "a=b%3Dc"},
	{"unreserved", "-._~AZaz09=-._~AZaz09", "-._~AZaz09=-._~AZaz09"},
}

func TestCanonicalQuery(t *testing.T) {
	for _, tc := range queryCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := canonicalQueryOf(tc.raw)
			if !ok || got != tc.want {
				t.Errorf("canonical query of %q: got %q (ok=%v), want %q", tc.raw, got, ok, tc.want)
			}
			if !strings.Contains(tc.raw, ";") {
				if ref, _ := refCanonicalQuery(tc.raw); ref != got {
					t.Errorf("canonical query of %q: got %q, SDK algorithm gives %q", tc.raw, got, ref)
				}
			}
		})
	}
	for _, bad := range []string{"a=%", "a=%g0", "%zz=1", "a=%2"} {
		if got, ok := canonicalQueryOf(bad); ok {
			t.Errorf("canonical query of %q: got %q, want an error", bad, got)
		}
	}
}
