package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/keyring"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// testNow is the server's (fixed) clock and the signing time of every
// request, so signatures never depend on the wall clock.
var testNow = time.Date(2026, 11, 21, 23, 46, 12, 0, time.UTC)

// testBodyLimit is small so the size limit is cheap to reach.
const testBodyLimit = 4096

// syncBuffer collects log lines written by the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a Server on a loopback httptest listener with one user.
type fixture struct {
	url   string
	cred  *admin.Credentials
	logs  *syncBuffer
	users *admin.Users
}

// newFixture starts a server; handlers replace (or add) table entries
// before it serves, which is how tests inject failing actions.
func newFixture(t *testing.T, handlers map[string]actions.Handler, opts ...func(*conf.Config)) *fixture {
	t.Helper()
	return newFixtureOver(t, nil, handlers, opts...)
}

// newFixtureOver is newFixture with the server's store wrapped by over
// (nil: the store itself); users are added to the store itself.
func newFixtureOver(t *testing.T, over func(store.Store) store.Store, handlers map[string]actions.Handler, opts ...func(*conf.Config)) *fixture {
	t.Helper()
	cfg := conf.Default()
	cfg.DataDir = t.TempDir()
	cfg.MaxRequestBytes = testBodyLimit
	for _, o := range opts {
		o(cfg)
	}
	st, err := store.OpenBolt(filepath.Join(cfg.DataDir, "econe.db"), time.Second)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := keyring.LoadOrCreate(filepath.Join(cfg.DataDir, "secret.key"))
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	clock := func() time.Time { return testNow }
	logs := &syncBuffer{}
	served := store.Store(st)
	if over != nil {
		served = over(st)
	}
	srv := New(cfg, &actions.Service{Config: cfg, Store: served, Clock: clock}, keys, nil, zerolog.New(logs))
	for name, h := range handlers {
		srv.table[name] = h
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	users := &admin.Users{Store: st, Keys: keys, Clock: clock}
	cred, err := users.Add("alice", "")
	if err != nil {
		t.Fatalf("add user: %v", err)
	}
	return &fixture{url: hs.URL, cred: cred, logs: logs, users: users}
}

// params builds url.Values from name, value pairs.
func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// with returns a copy of base with the name, value pairs added.
func with(base url.Values, kv ...string) url.Values {
	out := params(kv...)
	for k, vs := range base {
		out[k] = append(out[k], vs...)
	}
	return out
}

// newRequest puts p in a POST form body, or in the query for GET.
func (f *fixture) newRequest(t *testing.T, method, path string, p url.Values) (*http.Request, []byte) {
	t.Helper()
	var body []byte
	target := f.url + path
	if method == http.MethodGet {
		target += "?" + p.Encode()
	} else {
		body = []byte(p.Encode())
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	return req, body
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signV4 signs req with aws-sdk-go-v2's signer (the oracle) at testNow.
func signV4(t *testing.T, req *http.Request, body []byte, akid, secret string) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "ec2", "us-east-1", testNow); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// signed builds and signs a request as alice.
func (f *fixture) signed(t *testing.T, method, path string, p url.Values) *http.Request {
	t.Helper()
	req, body := f.newRequest(t, method, path, p)
	signV4(t, req, body, f.cred.AccessKeyID, f.cred.SecretAccessKey)
	return req
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// elementPaths lists every element of an XML document as a slash path, in
// document order: the shape of a response, independent of its values.
func elementPaths(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack, out []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("response is not XML: %v\n%s", err, doc)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			stack = append(stack, el.Name.Local)
			out = append(out, strings.Join(stack, "/"))
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

type successDoc struct {
	XMLName   xml.Name
	XMLNS     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`
}

func TestSuccessEnvelope(t *testing.T) {
	f := newFixture(t, nil)
	regionsShape := []string{
		"DescribeRegionsResponse",
		"DescribeRegionsResponse/requestId",
		"DescribeRegionsResponse/regionInfo",
		"DescribeRegionsResponse/regionInfo/item",
		"DescribeRegionsResponse/regionInfo/item/optInStatus",
		"DescribeRegionsResponse/regionInfo/item/regionName",
		"DescribeRegionsResponse/regionInfo/item/regionEndpoint",
	}
	// pad grows a DescribeRegions form body to exactly the size limit.
	pad := func() url.Values {
		p := params("Action", "DescribeRegions", "Pad", "")
		p.Set("Pad", strings.Repeat("x", testBodyLimit-len(p.Encode())))
		return p
	}
	cases := []struct {
		name, method, path string
		params             url.Values
		wantVersion        string
	}{
		{"POST without Version", http.MethodPost, "/", params("Action", "DescribeRegions"), "2016-11-15"},
		{"POST echoes Version 2010-08-31", http.MethodPost, "/", params("Action", "DescribeRegions", "Version", "2010-08-31"), "2010-08-31"},
		{"GET echoes Version 2014-10-01", http.MethodGet, "/", params("Action", "DescribeRegions", "Version", "2014-10-01"), "2014-10-01"},
		{"POST to a trailing path the client signed", http.MethodPost, "/services/ec2/", params("Action", "DescribeRegions", "Version", "2016-11-15"), "2016-11-15"},
		{"GET to a trailing path the client signed", http.MethodGet, "/ec2", params("Action", "DescribeRegions"), "2016-11-15"},
		{"body exactly at the size limit", http.MethodPost, "/", pad(), "2016-11-15"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, f.signed(t, c.method, c.path, c.params))
			if got.status != http.StatusOK {
				t.Fatalf("got status %d, want 200; body:\n%s", got.status, got.body)
			}
			if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
				t.Errorf("got Content-Type %q, want text/xml", ct)
			}
			var doc successDoc
			if err := xml.Unmarshal(got.body, &doc); err != nil {
				t.Fatalf("unmarshal: %v\n%s", err, got.body)
			}
			if want := "http://ec2.amazonaws.com/doc/" + c.wantVersion + "/"; doc.XMLNS != want {
				t.Errorf("got xmlns %q, want %q", doc.XMLNS, want)
			}
			if !uuidRE.MatchString(doc.RequestID) {
				t.Errorf("got requestId %q, want a UUID", doc.RequestID)
			}
			if h := got.header.Get("X-Amzn-Requestid"); h != doc.RequestID {
				t.Errorf("got X-Amzn-Requestid %q, want the body's requestId %q", h, doc.RequestID)
			}
			if shape := elementPaths(t, got.body); !slices.Equal(shape, regionsShape) {
				t.Errorf("got elements %q, want %q", shape, regionsShape)
			}
		})
	}
}

// TestResponseShapes pins element names and order to botocore's EC2 model
// (service-2.json, 2016-11-15): AvailabilityZone and AccountAttribute.
func TestResponseShapes(t *testing.T) {
	f := newFixture(t, nil)
	prefixed := func(root string, paths ...string) []string {
		out := []string{root}
		for _, p := range paths {
			out = append(out, root+"/"+p)
		}
		return out
	}
	zone := "availabilityZoneInfo/item/"
	attr := "accountAttributeSet/item/"
	cases := []struct {
		name      string
		params    url.Values
		wantShape []string
	}{
		{"DescribeAvailabilityZones", params("Action", "DescribeAvailabilityZones", "ZoneName.1", "us-east-1b"),
			prefixed("DescribeAvailabilityZonesResponse", "requestId", "availabilityZoneInfo", "availabilityZoneInfo/item",
				zone+"optInStatus", zone+"messageSet", zone+"regionName", zone+"zoneName", zone+"zoneId",
				zone+"groupName", zone+"networkBorderGroup", zone+"zoneType", zone+"zoneState")},
		{"DescribeAccountAttributes", params("Action", "DescribeAccountAttributes", "AttributeName.1", "supported-platforms"),
			prefixed("DescribeAccountAttributesResponse", "requestId", "accountAttributeSet", "accountAttributeSet/item",
				attr+"attributeName", attr+"attributeValueSet", attr+"attributeValueSet/item", attr+"attributeValueSet/item/attributeValue")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, f.signed(t, http.MethodPost, "/", c.params))
			if got.status != http.StatusOK {
				t.Fatalf("got status %d, want 200; body:\n%s", got.status, got.body)
			}
			if shape := elementPaths(t, got.body); !slices.Equal(shape, c.wantShape) {
				t.Errorf("got elements\n%q\nwant\n%q", shape, c.wantShape)
			}
		})
	}
}

type errorDoc struct {
	XMLName xml.Name `xml:"Response"`
	Errors  []struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Errors>Error"`
	RequestID string `xml:"RequestID"`
}

var errorShape = []string{
	"Response",
	"Response/Errors",
	"Response/Errors/Error",
	"Response/Errors/Error/Code",
	"Response/Errors/Error/Message",
	"Response/RequestID",
}

// checkError asserts the EC2 error envelope and returns its one error.
func checkError(t *testing.T, got reply, wantStatus int, wantCode string) (message string) {
	t.Helper()
	if got.status != wantStatus {
		t.Errorf("got status %d, want %d; body:\n%s", got.status, wantStatus, got.body)
	}
	if shape := elementPaths(t, got.body); !slices.Equal(shape, errorShape) {
		t.Fatalf("got elements %q, want %q", shape, errorShape)
	}
	var doc errorDoc
	if err := xml.Unmarshal(got.body, &doc); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	e := doc.Errors[0]
	if e.Code != wantCode {
		t.Errorf("got code %q (%s), want %q", e.Code, e.Message, wantCode)
	}
	if e.Message == "" {
		t.Errorf("got an empty message for %s, want one a student can act on", e.Code)
	}
	if !uuidRE.MatchString(doc.RequestID) || got.header.Get("X-Amzn-Requestid") != doc.RequestID {
		t.Errorf("got RequestID %q and header %q, want the same UUID", doc.RequestID, got.header.Get("X-Amzn-Requestid"))
	}
	return e.Message
}

func TestErrorEnvelope(t *testing.T) {
	f := newFixture(t, nil)
	signedWithType := func(contentType string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			req, body := f.newRequest(t, http.MethodPost, "/", params("Action", "DescribeRegions"))
			req.Header.Set("Content-Type", contentType)
			signV4(t, req, body, f.cred.AccessKeyID, f.cred.SecretAccessKey)
			return req
		}
	}
	signedParams := func(method string, kv ...string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request { return f.signed(t, method, "/", params(kv...)) }
	}
	cases := []struct {
		name        string
		build       func(t *testing.T) *http.Request
		wantStatus  int
		wantCode    string
		wantMessage string // a part of the message
	}{
		{"unknown action", signedParams(http.MethodPost, "Action", "DescribeUnicorns"),
			400, ec2err.InvalidAction, "DescribeUnicorns"},
		{"no Action", signedParams(http.MethodPost, "Version", "2016-11-15"),
			400, ec2err.MissingParameter, "Action"},
		{"unknown filter", signedParams(http.MethodGet, "Action", "DescribeRegions", "Filter.1.Name", "colour", "Filter.1.Value.1", "red"),
			400, ec2err.InvalidParameterValue, "colour"},
		{"filter without a name", signedParams(http.MethodPost, "Action", "DescribeAvailabilityZones", "Filter.1.Value.1", "x"),
			400, ec2err.InvalidParameterValue, "The filter 'null' is invalid"},
		{"DryRun", signedParams(http.MethodPost, "Action", "DescribeAvailabilityZones", "DryRun", "true"),
			412, ec2err.DryRunOperation, "DryRun"},
		{"unsigned request", func(t *testing.T) *http.Request {
			req, _ := f.newRequest(t, http.MethodPost, "/", params("Action", "DescribeRegions"))
			return req
		}, 401, ec2err.MissingAuthenticationToken, "access key"},
		{"body over the size limit", signedParams(http.MethodPost, "Action", "DescribeRegions", "Pad", strings.Repeat("x", testBodyLimit)),
			413, ec2err.RequestEntityTooLarge, fmt.Sprint(testBodyLimit)},
		{"JSON body", signedWithType("application/json"), 400, ec2err.InvalidRequest, "application/x-www-form-urlencoded"},
		{"query not URL-encoded", func(t *testing.T) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, f.url+"/?Action=%zz", nil)
			return req
		}, 400, ec2err.InvalidRequest, "URL encoding"},
		{"PUT", func(t *testing.T) *http.Request {
			req, _ := f.newRequest(t, http.MethodPut, "/", params("Action", "DescribeRegions"))
			return req
		}, 400, ec2err.UnsupportedOperation, "PUT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := checkError(t, do(t, c.build(t)), c.wantStatus, c.wantCode)
			if !strings.Contains(msg, c.wantMessage) {
				t.Errorf("got message %q, want it to mention %q", msg, c.wantMessage)
			}
		})
	}
}

// TestInternalErrorsHideDetail: a panic or an unexpected error in a
// handler is a 500 InternalError whose detail reaches only the log, and
// the server keeps serving.
func TestInternalErrorsHideDetail(t *testing.T) {
	cases := []struct {
		action     string
		handler    actions.Handler
		wantDetail string // in the log, never in the body
	}{
		{"Panic", func(*actions.Service, *actions.Request) (any, error) { panic("boom detail-7f3a9") }, "boom detail-7f3a9"},
		{"PlainError", func(*actions.Service, *actions.Request) (any, error) {
			return nil, errors.New("disk on fire: detail-51bd")
		}, "disk on fire: detail-51bd"},
		{"Unencodable", func(*actions.Service, *actions.Request) (any, error) { return map[string]string{}, nil }, "unsupported type"},
	}
	handlers := map[string]actions.Handler{}
	for _, c := range cases {
		handlers[c.action] = c.handler
	}
	f := newFixture(t, handlers)
	for _, c := range cases {
		t.Run(c.action, func(t *testing.T) {
			got := do(t, f.signed(t, http.MethodPost, "/", params("Action", c.action)))
			msg := checkError(t, got, http.StatusInternalServerError, ec2err.InternalError)
			if strings.Contains(string(got.body), c.wantDetail) {
				t.Errorf("got body %s, want the detail %q kept out of it", got.body, c.wantDetail)
			}
			if msg != "An internal error has occurred." {
				t.Errorf("got message %q, want the generic one", msg)
			}
			line := accessLine(t, f.logs.String(), got.header.Get("X-Amzn-Requestid"))
			if line["level"] != "error" || !strings.Contains(fmt.Sprint(line["detail"]), c.wantDetail) {
				t.Errorf("got log line %v, want level error with the detail %q", line, c.wantDetail)
			}
		})
	}
	if got := do(t, f.signed(t, http.MethodGet, "/", params("Action", "DescribeAvailabilityZones"))); got.status != http.StatusOK {
		t.Errorf("after the failures: got status %d, want 200; body:\n%s", got.status, got.body)
	}
}

// TestDeclaredCodesKeepTheirStatus: whatever code a handler returns is
// written with its status, and only server-side conditions are 5xx (old
// boto retries 5xx for minutes).
func TestDeclaredCodesKeepTheirStatus(t *testing.T) {
	f := newFixture(t, map[string]actions.Handler{
		"Fail": func(_ *actions.Service, r *actions.Request) (any, error) {
			return nil, ec2err.New(r.Params.String("Code"), "failing as asked")
		},
	})
	serverSide := map[string]bool{ec2err.InternalError: true, ec2err.Unavailable: true, ec2err.ServiceUnavailable: true, ec2err.RequestLimitExceeded: true}
	for code, status := range ec2err.Codes() {
		t.Run(code, func(t *testing.T) {
			checkError(t, do(t, f.signed(t, http.MethodPost, "/", params("Action", "Fail", "Code", code))), status, code)
			if !serverSide[code] && status >= 500 {
				t.Errorf("got status %d for client error %s, want 4xx", status, code)
			}
		})
	}
}

// TestSignedHostBehindProxy: with ssl_server set, a request signed for the
// public host is accepted whatever Host the proxy forwards, and so is one
// signed for the address a client on the server machine connected to.
func TestSignedHostBehindProxy(t *testing.T) {
	f := newFixture(t, nil, func(c *conf.Config) { c.SSLServer = "https://EC2.example.edu:443/" })
	cases := []struct {
		name, signedHost string // "" = the address connected to
		wantStatus       int
	}{
		{"signed for the public host", "ec2.example.edu", 200},
		{"signed for the address connected to", "", 200},
		{"signed for another host", "ec2.example.com", 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, body := f.newRequest(t, http.MethodPost, "/", params("Action", "DescribeRegions"))
			forwarded := req.Host
			if c.signedHost != "" {
				req.Host = c.signedHost
			}
			signV4(t, req, body, f.cred.AccessKeyID, f.cred.SecretAccessKey)
			req.Host = forwarded
			if got := do(t, req); got.status != c.wantStatus {
				t.Errorf("got status %d, want %d; body:\n%s", got.status, c.wantStatus, got.body)
			}
		})
	}
}

// TestAuthServiceAndToken: a scope naming another service than ec2 (save
// the host-derived one boto 2 signs) and a session token are AuthFailure,
// each with a message that says what to change.
func TestAuthServiceAndToken(t *testing.T) {
	f := newFixture(t, nil)
	sign := func(service, token string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			req, body := f.newRequest(t, http.MethodPost, "/", params("Action", "DescribeRegions"))
			creds := aws.Credentials{AccessKeyID: f.cred.AccessKeyID, SecretAccessKey: f.cred.SecretAccessKey, SessionToken: token}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), service, "us-east-1", testNow); err != nil {
				t.Fatalf("SignHTTP: %v", err)
			}
			return req
		}
	}
	cases := []struct {
		name       string
		build      func(t *testing.T) *http.Request
		wantStatus int
		wantCode   string
		wantParts  []string
	}{
		{"signed for ec2", sign("ec2", ""), 200, "", nil},
		{"signed for the host's first label, as boto 2 does", sign("127", ""), 200, "", nil},
		{"signed for s3", sign("s3", ""), 401, ec2err.AuthFailure, []string{"Credential should be scoped to correct service: 'ec2'", `"s3"`}},
		{"session token", sign("ec2", "FwoGZXIvYXdzEXAMPLETOKEN"), 401, ec2err.AuthFailure,
			[]string{"AWS was not able to validate the provided access credentials.", "X-Amz-Security-Token", "AWS_SESSION_TOKEN"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, c.build(t))
			if c.wantCode == "" {
				if got.status != c.wantStatus {
					t.Fatalf("got status %d, want %d; body:\n%s", got.status, c.wantStatus, got.body)
				}
				return
			}
			msg := checkError(t, got, c.wantStatus, c.wantCode)
			for _, part := range c.wantParts {
				if !strings.Contains(msg, part) {
					t.Errorf("got message %q, want it to contain %q", msg, part)
				}
			}
		})
	}
}

// TestParameterLimit: net/url parses at most 10,000 fields; a request
// over that (query and body together) is told the limit, not that its
// encoding is bad.
func TestParameterLimit(t *testing.T) {
	f := newFixture(t, nil, func(c *conf.Config) { c.MaxRequestBytes = 1 << 20 })
	// fields returns DescribeRegions with n fields in all: parameters the
	// action ignores, since every list stops at 1,000 members anyway.
	fields := func(n int) url.Values {
		p := params("Action", "DescribeRegions")
		for i := 1; i < n; i++ {
			p.Set(fmt.Sprintf("Pad%d", i), "x")
		}
		return p
	}
	// split puts the first n fields of p in the query, the rest in the
	// body. The SDK's signer cannot sign a query of over 10,000 fields (it
	// re-encodes the query through url.ParseQuery), so those go unsigned:
	// the limit is checked before the signature anyway.
	split := func(p url.Values, n int) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			q, b := url.Values{}, url.Values{}
			i := 0
			for k, vs := range p {
				if i < n {
					q[k] = vs
				} else {
					b[k] = vs
				}
				i++
			}
			req, body := f.newRequest(t, http.MethodPost, "/", b)
			req.URL.RawQuery = q.Encode()
			if n <= 10000 {
				signV4(t, req, body, f.cred.AccessKeyID, f.cred.SecretAccessKey)
			}
			return req
		}
	}
	cases := []struct {
		name     string
		build    func(t *testing.T) *http.Request
		wantCode string // "" = success
		wantN    int
	}{
		{"10,000 in the body", split(fields(10000), 0), "", 0},
		{"10,001 in the body", split(fields(10001), 0), ec2err.InvalidParameterValue, 10001},
		{"10,001 in the query", split(fields(10001), 10001), ec2err.InvalidParameterValue, 10001},
		{"6,000 in the query and 5,000 in the body", split(fields(11000), 6000), ec2err.InvalidParameterValue, 11000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, c.build(t))
			if c.wantCode == "" {
				if got.status != http.StatusOK {
					t.Errorf("got status %d, want 200; body:\n%s", got.status, got.body)
				}
				return
			}
			msg := checkError(t, got, http.StatusBadRequest, c.wantCode)
			for _, part := range []string{fmt.Sprint(c.wantN), "at most 10000"} {
				if !strings.Contains(msg, part) {
					t.Errorf("got message %q, want it to contain %q", msg, part)
				}
			}
		})
	}
}

// TestFormType: the SDKs' header, taken without parsing, is read as the
// parsed headers are.
func TestFormType(t *testing.T) {
	cases := []struct {
		name, header, wantType string
		wantOK                 bool
	}{
		{"the SDKs' header", sdkFormType, "application/x-www-form-urlencoded", true},
		{"upper case", "Application/X-WWW-Form-Urlencoded; Charset=UTF-8", "application/x-www-form-urlencoded", true},
		{"no parameters", "application/x-www-form-urlencoded", "application/x-www-form-urlencoded", true},
		{"none", "", "", true},
		{"JSON", "application/json", "application/json", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, ok := formType(c.header); got != c.wantType || ok != c.wantOK {
				t.Errorf("got %q, %v, want %q, %v", got, ok, c.wantType, c.wantOK)
			}
		})
	}
}

func TestIsVersion(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{
		{"2016-11-15", true},
		{"0000-00-00", true},
		{"", false},
		{"2016-11-1", false},
		{"2016-11-155", false},
		{"2016/11/15", false},
		{"2016-1a-15", false},
		{"2016-11-15\n", false},
		{"٢016-11-15", false}, // a non-ASCII digit
		{"20161-1-15", false},
	} {
		if got := isVersion(c.v); got != c.want {
			t.Errorf("isVersion(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if !uuidRE.MatchString(id) {
			t.Fatalf("got request id %q, want a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("got request id %q twice", id)
		}
		seen[id] = true
	}
}
