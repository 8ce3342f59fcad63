// Package e2e drives a real econe-server with real clients: aws-sdk-go-v2,
// the AWS CLI v2, boto3, boto 2.49, and SigV2 requests signed by hand.
package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
)

// The region and zones of these tests are not the defaults, so the answers
// provably come from the configuration.
const testRegion = "eu-south-9"

var testZones = []string{"eu-south-9a", "eu-south-9b", "eu-south-9c"}

func start(t *testing.T, opts ...func(*conf.Config)) (*econetest.Env, *admin.Credentials) {
	t.Helper()
	e := econetest.Start(t, append([]func(*conf.Config){func(c *conf.Config) {
		c.Region = testRegion
		c.AvailabilityZones = testZones
	}}, opts...)...)
	return e, e.User(t, "alice")
}

// --- hand-built requests --------------------------------------------------

func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

var regionsQuery = params("Action", "DescribeRegions", "Version", "2016-11-15")

// newRequest puts p in a POST form body, or in the query for GET.
func newRequest(t *testing.T, e *econetest.Env, method string, p url.Values) (*http.Request, []byte) {
	t.Helper()
	target, body := e.URL+"/", []byte(nil)
	if method == http.MethodGet {
		target += "?" + p.Encode()
	} else {
		body = []byte(p.Encode())
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	return req, body
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sdkSigned is a DescribeRegions POST signed by aws-sdk-go-v2's signer.
func sdkSigned(t *testing.T, e *econetest.Env, akid, secret, region string, at time.Time) (*http.Request, []byte) {
	t.Helper()
	req, body := newRequest(t, e, http.MethodPost, regionsQuery)
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "ec2", region, at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return req, body
}

// sdkPresigned is a DescribeRegions URL presigned at `at`, valid for expires.
func sdkPresigned(t *testing.T, e *econetest.Env, c *admin.Credentials, at time.Time, expires time.Duration) *http.Request {
	t.Helper()
	p := params("Action", "DescribeRegions", "Version", "2016-11-15", "X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	req, _ := newRequest(t, e, http.MethodGet, p)
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
	signedURL, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, sha256Hex(nil), "ec2", testRegion, at)
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	out, err := http.NewRequest(http.MethodGet, signedURL, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	return out
}

// rfc3986 encodes as SigV2 requires: unreserved characters kept, space as %20.
func rfc3986(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// signV2 returns the SigV2 signature of p, written from AWS's description
// (TestSigV2Vector pins it to boto 2.0b3's output).
func signV2(method, host, path string, p url.Values, secret, sigMethod string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = rfc3986(k) + "=" + rfc3986(p.Get(k))
	}
	newHash := map[string]func() hash.Hash{"HmacSHA256": sha256.New, "HmacSHA1": sha1.New}[sigMethod]
	mac := hmac.New(newHash, []byte(secret))
	mac.Write([]byte(method + "\n" + strings.ToLower(host) + "\n" + path + "\n" + strings.Join(pairs, "&")))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// v2Params are p plus SigV2's parameters; timeParam is "Timestamp" or
// "Expires" with its value.
func v2Params(p url.Values, akid, sigMethod, timeParam, timeValue string) url.Values {
	out := params("AWSAccessKeyId", akid, "SignatureVersion", "2", "SignatureMethod", sigMethod, timeParam, timeValue)
	for k, vs := range p {
		out[k] = vs
	}
	return out
}

// v2Signed is a SigV2 DescribeRegions request as boto 2.0b3 sends one.
func v2Signed(t *testing.T, e *econetest.Env, method, secret, sigMethod string, p url.Values) *http.Request {
	t.Helper()
	p.Set("Signature", signV2(method, e.Host(), "/", p, secret, sigMethod))
	req, _ := newRequest(t, e, method, p)
	return req
}

const v2Time = "2006-01-02T15:04:05"

type reply struct {
	status  int
	code    string // "" for a success
	message string
	body    string
}

func send(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc struct {
		Code    string `xml:"Errors>Error>Code"`
		Message string `xml:"Errors>Error>Message"`
	}
	_ = xml.Unmarshal(body, &doc)
	return reply{status: resp.StatusCode, code: doc.Code, message: doc.Message, body: string(body)}
}

// apiError returns the EC2 code and HTTP status of an SDK error.
func apiError(err error) (code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// --- authentication -----------------------------------------------------

func TestSigV2Vector(t *testing.T) {
	p := params("AWSAccessKeyId", "AKIASTUDENT0000001", "Action", "DescribeInstances", "SignatureMethod", "HmacSHA256",
		"SignatureVersion", "2", "Timestamp", "2026-11-21T23:46:12", "Version", "2010-08-31")
	got := signV2("GET", "127.0.0.1:5000", "/", p, "studentsecret0000000000000000000000001", "HmacSHA256")
	if want := "MUaBfqf6onIWcPc8SVKjQGcf5mQbMSH9Pxh4fNQpOIk="; got != want {
		t.Fatalf("got signature %s, want %s (the vector in shared/compat/hadoop-ec2.md)", got, want)
	}
}

func TestAuthErrors(t *testing.T) {
	e, alice := start(t)
	bob := e.User(t, "bob")
	if err := e.App.Users.SetDisabled("bob", true); err != nil {
		t.Fatalf("disable bob: %v", err)
	}
	now := time.Now().UTC()
	v4Scoped := func(akid, secret, region string, at time.Time) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			req, _ := sdkSigned(t, e, akid, secret, region, at)
			return req
		}
	}
	v4Request := func(akid, secret string, at time.Time) func(t *testing.T) *http.Request {
		return v4Scoped(akid, secret, testRegion, at)
	}
	withAuthorization := func(value string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			req, _ := newRequest(t, e, http.MethodPost, regionsQuery)
			req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
			req.Header.Set("Authorization", value)
			return req
		}
	}
	v2Request := func(method, secret, sigMethod, timeParam, timeValue string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return v2Signed(t, e, method, secret, sigMethod, v2Params(regionsQuery, alice.AccessKeyID, sigMethod, timeParam, timeValue))
		}
	}
	cases := []struct {
		name       string
		build      func(t *testing.T) *http.Request
		wantStatus int
		wantCode   string // "" = success
	}{
		{"SigV4 valid", v4Request(alice.AccessKeyID, alice.SecretAccessKey, now), 200, ""},
		{"SigV4 scoped to another region (enforce_region off)", v4Scoped(alice.AccessKeyID, alice.SecretAccessKey, "us-east-1", now), 200, ""},
		{"unknown access key", v4Request("AKIAUNKNOWNKEY000000", alice.SecretAccessKey, now), 401, "AuthFailure"},
		{"wrong secret", v4Request(alice.AccessKeyID, "x"+alice.SecretAccessKey, now), 401, "AuthFailure"},
		{"disabled user", v4Request(bob.AccessKeyID, bob.SecretAccessKey, now), 401, "AuthFailure"},
		{"no credentials", func(t *testing.T) *http.Request {
			req, _ := newRequest(t, e, http.MethodPost, regionsQuery)
			return req
		}, 401, "MissingAuthenticationToken"},
		{"Authorization without SignedHeaders", withAuthorization("AWS4-HMAC-SHA256 Credential=" + alice.AccessKeyID + "/" + now.Format("20060102") + "/" + testRegion + "/ec2/aws4_request, Signature=" + strings.Repeat("ab", 32)), 400, "IncompleteSignature"},
		{"Authorization with a bad credential scope", withAuthorization("AWS4-HMAC-SHA256 Credential=" + alice.AccessKeyID + "/today, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("ab", 32)), 400, "IncompleteSignature"},
		{"Authorization of another scheme", withAuthorization("AWS " + alice.AccessKeyID + ":c2lnbmF0dXJl"), 400, "IncompleteSignature"},
		{"signed 20 minutes ago", v4Request(alice.AccessKeyID, alice.SecretAccessKey, now.Add(-20*time.Minute)), 400, "RequestExpired"},
		{"signed 20 minutes ahead", v4Request(alice.AccessKeyID, alice.SecretAccessKey, now.Add(20*time.Minute)), 400, "RequestExpired"},
		{"signed 10 minutes ago, within the skew", v4Request(alice.AccessKeyID, alice.SecretAccessKey, now.Add(-10*time.Minute)), 200, ""},
		{"presigned URL", func(t *testing.T) *http.Request { return sdkPresigned(t, e, alice, now, 5*time.Minute) }, 200, ""},
		{"presigned URL expired", func(t *testing.T) *http.Request {
			return sdkPresigned(t, e, alice, now.Add(-10*time.Minute), time.Minute)
		}, 400, "RequestExpired"},
		{"tampered body", func(t *testing.T) *http.Request {
			req, body := sdkSigned(t, e, alice.AccessKeyID, alice.SecretAccessKey, testRegion, now)
			tampered := bytes.Replace(body, []byte("DescribeRegions"), []byte("DescribeRegionZ"), 1)
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(tampered)), int64(len(tampered))
			return req
		}, 401, "AuthFailure"},
		{"SigV2 wrong secret", v2Request(http.MethodGet, "x"+alice.SecretAccessKey, "HmacSHA256", "Timestamp", now.Format(v2Time)), 401, "AuthFailure"},
		{"SigV2 Timestamp 20 minutes ago", v2Request(http.MethodGet, alice.SecretAccessKey, "HmacSHA256", "Timestamp", now.Add(-20*time.Minute).Format(v2Time)), 400, "RequestExpired"},
		{"SigV2 Expires passed", v2Request(http.MethodPost, alice.SecretAccessKey, "HmacSHA1", "Expires", now.Add(-time.Minute).Format(v2Time+"Z")), 400, "RequestExpired"},
		{"SigV2 Expires in 7 days", v2Request(http.MethodGet, alice.SecretAccessKey, "HmacSHA256", "Expires", now.Add(7*24*time.Hour).Format(v2Time+"Z")), 200, ""},
		{"SigV2 Expires in the year 2999", v2Request(http.MethodGet, alice.SecretAccessKey, "HmacSHA256", "Expires", "2999-01-01T00:00:00Z"), 400, "IncompleteSignature"},
		{"SigV2 with a SecurityToken", func(t *testing.T) *http.Request {
			p := v2Params(regionsQuery, alice.AccessKeyID, "HmacSHA256", "Timestamp", now.Format(v2Time))
			p.Set("SecurityToken", "FwoGZXIvYXdzEXAMPLETOKEN")
			return v2Signed(t, e, http.MethodGet, alice.SecretAccessKey, "HmacSHA256", p)
		}, 401, "AuthFailure"},
		{"SigV4 scoped to service s3", func(t *testing.T) *http.Request {
			req, body := newRequest(t, e, http.MethodPost, regionsQuery)
			creds := aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "s3", testRegion, now); err != nil {
				t.Fatalf("SignHTTP: %v", err)
			}
			return req
		}, 401, "AuthFailure"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := send(t, c.build(t))
			if got.status != c.wantStatus || got.code != c.wantCode {
				t.Errorf("got %d %s (%s), want %d %s", got.status, got.code, got.message, c.wantStatus, c.wantCode)
			}
			if c.wantCode != "" && got.message == "" {
				t.Errorf("got no message with %s, want one a student can act on", got.code)
			}
		})
	}
}

func TestSigV2(t *testing.T) {
	e, alice := start(t)
	now := time.Now().UTC()
	cases := []struct {
		name, method, sigMethod, timeParam, timeValue string
	}{
		{"GET HmacSHA256 Timestamp without Z (boto 2.0b3)", http.MethodGet, "HmacSHA256", "Timestamp", now.Format(v2Time)},
		{"GET HmacSHA1 Timestamp with Z", http.MethodGet, "HmacSHA1", "Timestamp", now.Format(v2Time + "Z")},
		{"POST HmacSHA256 Timestamp with Z", http.MethodPost, "HmacSHA256", "Timestamp", now.Format(v2Time + "Z")},
		{"POST HmacSHA1 Timestamp without Z", http.MethodPost, "HmacSHA1", "Timestamp", now.Format(v2Time)},
		{"GET HmacSHA256 Expires", http.MethodGet, "HmacSHA256", "Expires", now.Add(5 * time.Minute).Format(v2Time + "Z")},
		{"POST HmacSHA1 Expires without Z", http.MethodPost, "HmacSHA1", "Expires", now.Add(5 * time.Minute).Format(v2Time)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := v2Params(params("Action", "DescribeAvailabilityZones", "Version", "2010-08-31", "ZoneName.1", "eu-south-9b"),
				alice.AccessKeyID, c.sigMethod, c.timeParam, c.timeValue)
			got := send(t, v2Signed(t, e, c.method, alice.SecretAccessKey, c.sigMethod, p))
			if got.status != 200 || !strings.Contains(got.body, "<zoneName>eu-south-9b</zoneName>") {
				t.Errorf("got %d %s %s, want 200 with zone eu-south-9b; body:\n%s", got.status, got.code, got.message, got.body)
			}
			if want := `xmlns="http://ec2.amazonaws.com/doc/2010-08-31/"`; !strings.Contains(got.body, want) {
				t.Errorf("got body %s, want it to carry %s", got.body, want)
			}
		})
	}
}

func TestSigV2Disabled(t *testing.T) {
	e, alice := start(t, func(c *conf.Config) { c.Auth.SigV2 = false })
	p := v2Params(regionsQuery, alice.AccessKeyID, "HmacSHA256", "Timestamp", time.Now().UTC().Format(v2Time))
	got := send(t, v2Signed(t, e, http.MethodGet, alice.SecretAccessKey, "HmacSHA256", p))
	if got.status != 401 || got.code != "AuthFailure" || !strings.Contains(got.message, "Signature Version 4") {
		t.Errorf("SigV2 with auth.sigv2=false: got %d %s (%s), want 401 AuthFailure telling to use Signature Version 4", got.status, got.code, got.message)
	}
	if _, err := e.EC2(alice).DescribeRegions(econetest.Context(t), &ec2.DescribeRegionsInput{}); err != nil {
		t.Errorf("SigV4 with auth.sigv2=false: got %v, want success", err)
	}
}

// TestSessionTokenRefused: econe issues no session tokens, so a client
// configured with one (left over from an AWS session, say) is told so, as
// EC2 tells it: AuthFailure, 401. The Go SDK (header-signed and
// presigned) and boto3 surface the code and the message.
func TestSessionTokenRefused(t *testing.T) {
	e, alice := start(t)
	const token = "FwoGZXIvYXdzEXAMPLETOKEN"
	wantMsg := "AWS_SESSION_TOKEN"

	client := ec2.New(e.EC2(alice).Options(), func(o *ec2.Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey, SessionToken: token}, nil
		})
	})
	_, err := client.DescribeRegions(econetest.Context(t), &ec2.DescribeRegionsInput{})
	var ae smithy.APIError
	if code, status := apiError(err); code != "AuthFailure" || status != 401 || !errors.As(err, &ae) || !strings.Contains(ae.ErrorMessage(), wantMsg) {
		t.Errorf("Go SDK with a session token: got %v, want AuthFailure 401 naming %s", err, wantMsg)
	}

	p := params("Action", "DescribeRegions", "Version", "2016-11-15", "X-Amz-Expires", "300")
	req, _ := newRequest(t, e, http.MethodGet, p)
	creds := aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey, SessionToken: token}
	signedURL, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, sha256Hex(nil), "ec2", testRegion, time.Now().UTC())
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	presigned, err := http.NewRequest(http.MethodGet, signedURL, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if got := send(t, presigned); got.status != 401 || got.code != "AuthFailure" || !strings.Contains(got.message, wantMsg) {
		t.Errorf("URL presigned with a session token: got %d %s (%s), want 401 AuthFailure naming %s", got.status, got.code, got.message, wantMsg)
	}

	got := boto3Error(t, e, alice, `os.environ["AWS_SESSION_TOKEN"] = "`+token+`"`, "describe_regions")
	if got.Code != "AuthFailure" || got.Status != 401 || !strings.Contains(got.Message, wantMsg) {
		t.Errorf("boto3 with a session token: got %+v, want AuthFailure 401 naming %s", got, wantMsg)
	}
}

func TestKeyRotationAndDisabling(t *testing.T) {
	e, old := start(t)
	ctx := econetest.Context(t)
	call := func(c *admin.Credentials) error {
		_, err := e.EC2(c).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
		return err
	}
	if err := call(old); err != nil {
		t.Fatalf("before rotation: got %v, want success", err)
	}
	rotated, err := e.App.Users.RotateKey("alice")
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	steps := []struct {
		name     string
		change   func() error
		creds    *admin.Credentials
		wantCode string
	}{
		{"old key after rotation", nil, old, "AuthFailure"},
		{"new key after rotation", nil, rotated, ""},
		{"new key while disabled", func() error { return e.App.Users.SetDisabled("alice", true) }, rotated, "AuthFailure"},
		{"new key enabled again", func() error { return e.App.Users.SetDisabled("alice", false) }, rotated, ""},
		{"old key stays dead after enabling", nil, old, "AuthFailure"},
		{"key of a deleted user", func() error { return e.App.Users.Delete("alice") }, rotated, "AuthFailure"},
	}
	for _, s := range steps {
		if s.change != nil {
			if err := s.change(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		code, status := apiError(call(s.creds))
		wantStatus := 0
		if s.wantCode != "" {
			wantStatus = 401
		}
		if code != s.wantCode || status != wantStatus {
			t.Errorf("%s: got code %q status %d, want %q %d", s.name, code, status, s.wantCode, wantStatus)
		}
	}
	// The name comes back with a new key; nothing of the old alice answers.
	again := e.User(t, "alice")
	if err := call(again); err != nil {
		t.Errorf("alice added again: got %v, want success", err)
	}
	if code, _ := apiError(call(rotated)); code != "AuthFailure" {
		t.Errorf("the deleted alice's key after the name is reused: got %q, want AuthFailure", code)
	}
}

// boto2Script connects boto 2.49 (SigV4) to the server the way a student
// would, scoped as boto derives it from 127.0.0.1 unless scoped is set, and
// prints what each call returned as JSON.
const boto2Script = `
import json, os, sys
import boto.exception
from boto.ec2.connection import EC2Connection
from boto.ec2.regioninfo import RegionInfo
host, port = os.environ["ECONE_HOST"].rsplit(":", 1)
def connect(scoped):
    c = EC2Connection(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
                      is_secure=False, port=int(port), region=RegionInfo(name="` + testRegion + `", endpoint=host))
    if scoped:
        c.auth_region_name, c.auth_service_name = "` + testRegion + `", "ec2"
    return c
out = {}
for scoped in (False, True):
    c = connect(scoped)
    try:
        out[str(scoped)] = {
            "regions": [(r.name, r.endpoint) for r in c.get_all_regions()],
            "zones": [(z.name, z.state, z.region_name) for z in c.get_all_zones()],
            "picked": [z.name for z in c.get_all_zones(zones=["eu-south-9c"], filters={"state": "available"})],
        }
    except boto.exception.EC2ResponseError as e:
        out[str(scoped)] = {"error": [e.status, e.error_code]}
json.dump(out, sys.stdout)
`

type boto2Result struct {
	Regions [][]string `json:"regions"`
	Zones   [][]string `json:"zones"`
	Picked  []string   `json:"picked"`
	Error   []any      `json:"error"`
}

func runBoto2(t *testing.T, e *econetest.Env, c *admin.Credentials) map[string]boto2Result {
	t.Helper()
	out, err := e.Boto2(t, c, boto2Script)
	var got map[string]boto2Result
	decodeOutput(t, out, err, &got)
	return got
}

// TestBoto2SigV4: boto 2.49 pointed at 127.0.0.1 signs the scope
// DATE/0/127/aws4_request; that is accepted unless enforce_region is on.
func TestBoto2SigV4(t *testing.T) {
	e, alice := start(t)
	got := runBoto2(t, e, alice)
	want := boto2Result{
		Regions: [][]string{{testRegion, e.Config.PublicHost()}},
		Zones:   [][]string{{"eu-south-9a", "available", testRegion}, {"eu-south-9b", "available", testRegion}, {"eu-south-9c", "available", testRegion}},
		Picked:  []string{"eu-south-9c"},
	}
	for _, scope := range []string{"False", "True"} {
		g := got[scope]
		if g.Error != nil || !slices.EqualFunc(g.Regions, want.Regions, slices.Equal) || !slices.EqualFunc(g.Zones, want.Zones, slices.Equal) || !slices.Equal(g.Picked, want.Picked) {
			t.Errorf("scoped by region=%s: got %+v, want %+v", scope, g, want)
		}
	}
}

// TestEnforceRegion: with auth.enforce_region a scope naming another region
// (boto 2's "0" included) is refused, the configured one accepted.
func TestEnforceRegion(t *testing.T) {
	e, alice := start(t, func(c *conf.Config) { c.Auth.EnforceRegion = true })
	now := time.Now().UTC()
	for _, c := range []struct {
		region   string
		wantCode string
	}{{testRegion, ""}, {"us-east-1", "AuthFailure"}, {"0", "AuthFailure"}} {
		req, _ := sdkSigned(t, e, alice.AccessKeyID, alice.SecretAccessKey, c.region, now)
		if got := send(t, req); got.code != c.wantCode || (c.wantCode != "" && !strings.Contains(got.message, testRegion)) {
			t.Errorf("signed for region %q: got %d %s (%s), want %q naming region %s", c.region, got.status, got.code, got.message, c.wantCode, testRegion)
		}
	}
	got := runBoto2(t, e, alice)
	if g := got["False"]; len(g.Error) != 2 || g.Error[0] != float64(401) || g.Error[1] != "AuthFailure" {
		t.Errorf("boto 2 with its derived scope: got %+v, want error [401 AuthFailure]", g)
	}
	if g := got["True"]; g.Error != nil || len(g.Zones) != len(testZones) {
		t.Errorf("boto 2 scoped to %s: got %+v, want the zones", testRegion, g)
	}
}

// --- regions, zones and account attributes ------------------------------

func zoneNames(zs []types.AvailabilityZone) []string {
	out := []string{}
	for _, z := range zs {
		out = append(out, aws.ToString(z.ZoneName))
	}
	return out
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func TestDescribeAvailabilityZonesSDK(t *testing.T) {
	e, alice := start(t)
	client, ctx := e.EC2(alice), econetest.Context(t)
	cases := []struct {
		name      string
		in        ec2.DescribeAvailabilityZonesInput
		wantZones []string
		wantCode  string
	}{
		{"all, in configuration order", ec2.DescribeAvailabilityZonesInput{}, testZones, ""},
		{"ZoneName.1", ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"eu-south-9b"}}, []string{"eu-south-9b"}, ""},
		{"ZoneName.1 and .2", ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"eu-south-9c", "eu-south-9a"}}, []string{"eu-south-9a", "eu-south-9c"}, ""},
		{"unknown ZoneName", ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"eu-south-9z"}}, nil, "InvalidParameterValue"},
		{"zone of another region", ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"us-east-1a"}}, nil, "InvalidParameterValue"},
		{"ZoneId.1", ec2.DescribeAvailabilityZonesInput{ZoneIds: []string{"eus9-az2"}}, []string{"eu-south-9b"}, ""},
		{"unknown ZoneId", ec2.DescribeAvailabilityZonesInput{ZoneIds: []string{"use1-az9"}}, nil, "InvalidParameterValue"},
		{"filter values are ORed", ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("zone-name", "eu-south-9a", "eu-south-9c")}}, []string{"eu-south-9a", "eu-south-9c"}, ""},
		{"filters are ANDed, with wildcards", ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("state", "available"), filter("zone-name", "*c")}}, []string{"eu-south-9c"}, ""},
		{"? matches one character", ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("zone-name", "eu-south-9?")}}, testZones, ""},
		{"filter matching nothing", ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("state", "impaired")}}, []string{}, ""},
		{"filter region-name", ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("region-name", testRegion)}}, testZones, ""},
		{"ZoneName and a filter", ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"eu-south-9a", "eu-south-9b"}, Filters: []types.Filter{filter("zone-id", "eus9-az2")}}, []string{"eu-south-9b"}, ""},
		{"unknown filter", ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("colour", "red")}}, nil, "InvalidParameterValue"},
		{"200 filter values", ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("zone-name", slices.Repeat([]string{"eu-south-9a"}, 200)...)}}, []string{"eu-south-9a"}, ""},
		{"201 filter values", ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("zone-name", slices.Repeat([]string{"eu-south-9a"}, 201)...)}}, nil, "FilterLimitExceeded"},
		{"a filter value of 256 characters", ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{filter("zone-name", "*"+strings.Repeat("a", 255))}}, nil, "FilterLimitExceeded"},
		{"DryRun", ec2.DescribeAvailabilityZonesInput{DryRun: aws.Bool(true)}, nil, "DryRunOperation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := client.DescribeAvailabilityZones(ctx, &c.in)
			code, status := apiError(err)
			if code != c.wantCode || (err != nil && c.wantCode == "") {
				t.Fatalf("got error %v, want code %q", err, c.wantCode)
			}
			if err != nil {
				if status >= 500 {
					t.Errorf("got status %d, want a client error", status)
				}
				return
			}
			if got := zoneNames(out.AvailabilityZones); !slices.Equal(got, c.wantZones) {
				t.Errorf("got zones %q, want %q", got, c.wantZones)
			}
		})
	}
	out, err := client.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"eu-south-9b"}})
	if err != nil {
		t.Fatalf("describe eu-south-9b: %v", err)
	}
	z := out.AvailabilityZones[0]
	got := []string{string(z.State), string(z.OptInStatus), aws.ToString(z.RegionName), aws.ToString(z.ZoneId),
		aws.ToString(z.GroupName), aws.ToString(z.NetworkBorderGroup), aws.ToString(z.ZoneType)}
	want := []string{"available", "opt-in-not-required", testRegion, "eus9-az2", testRegion, testRegion, "availability-zone"}
	if !slices.Equal(got, want) || z.Messages == nil || len(z.Messages) != 0 {
		t.Errorf("got zone fields %q, messages %v, want %q and an empty message list", got, z.Messages, want)
	}
}

func TestDescribeRegionsAndAccountAttributesSDK(t *testing.T) {
	e, alice := start(t)
	client, ctx := e.EC2(alice), econetest.Context(t)
	cases := []struct {
		name        string
		in          ec2.DescribeRegionsInput
		wantRegions int
		wantCode    string
	}{
		{"all", ec2.DescribeRegionsInput{}, 1, ""},
		{"RegionName.1", ec2.DescribeRegionsInput{RegionNames: []string{testRegion}}, 1, ""},
		{"another region", ec2.DescribeRegionsInput{RegionNames: []string{"us-east-1"}}, 0, "InvalidParameterValue"},
		{"AllRegions", ec2.DescribeRegionsInput{AllRegions: aws.Bool(true)}, 1, ""},
		{"filter region-name wildcard", ec2.DescribeRegionsInput{Filters: []types.Filter{filter("region-name", "eu-*")}}, 1, ""},
		{"filter region-name not matching", ec2.DescribeRegionsInput{Filters: []types.Filter{filter("region-name", "us-*")}}, 0, ""},
		{"filter endpoint", ec2.DescribeRegionsInput{Filters: []types.Filter{filter("endpoint", e.Config.PublicHost())}}, 1, ""},
		{"filter opt-in-status", ec2.DescribeRegionsInput{Filters: []types.Filter{filter("opt-in-status", "opt-in-not-required")}}, 1, ""},
		{"unknown filter", ec2.DescribeRegionsInput{Filters: []types.Filter{filter("colour", "red")}}, 0, "InvalidParameterValue"},
		{"DryRun", ec2.DescribeRegionsInput{DryRun: aws.Bool(true)}, 0, "DryRunOperation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := client.DescribeRegions(ctx, &c.in)
			if code, status := apiError(err); code != c.wantCode || (err != nil && c.wantCode == "") || status >= 500 {
				t.Fatalf("got error %v (status %d), want code %q", err, status, c.wantCode)
			}
			if err != nil {
				return
			}
			if len(out.Regions) != c.wantRegions {
				t.Fatalf("got %d regions, want %d", len(out.Regions), c.wantRegions)
			}
			for _, r := range out.Regions {
				got := []string{aws.ToString(r.RegionName), aws.ToString(r.Endpoint), aws.ToString(r.OptInStatus)}
				if want := []string{testRegion, e.Config.PublicHost(), "opt-in-not-required"}; !slices.Equal(got, want) {
					t.Errorf("got region %q, want %q", got, want)
				}
			}
		})
	}

	all, err := client.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{})
	if err != nil || len(all.AccountAttributes) < 2 {
		t.Fatalf("DescribeAccountAttributes: got %v, %v; want the attributes", all, err)
	}
	one, err := client.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{"supported-platforms"}})
	if err != nil || len(one.AccountAttributes) != 1 || aws.ToString(one.AccountAttributes[0].AttributeValues[0].AttributeValue) != "VPC" {
		t.Errorf("supported-platforms: got %+v, %v; want one attribute with value VPC", one, err)
	}
	_, err = client.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{"colour"}})
	if code, _ := apiError(err); code != "InvalidParameterValue" {
		t.Errorf("unknown attribute: got %v, want InvalidParameterValue", err)
	}
}

func TestRegionsWithAWSCLI(t *testing.T) {
	e, alice := start(t)
	var regions struct {
		Regions []struct{ RegionName, Endpoint, OptInStatus string }
	}
	cliJSON(t, e, alice, &regions, "ec2", "describe-regions")
	if len(regions.Regions) != 1 || regions.Regions[0].RegionName != testRegion || regions.Regions[0].Endpoint != e.Config.PublicHost() {
		t.Errorf("describe-regions: got %+v, want one region %s at %s", regions.Regions, testRegion, e.Config.PublicHost())
	}

	var zones struct {
		AvailabilityZones []struct{ ZoneName, State, RegionName string }
	}
	cliJSON(t, e, alice, &zones, "ec2", "describe-availability-zones", "--zone-names", "eu-south-9a", "eu-south-9c", "--filters", "Name=state,Values=available")
	var got []string
	for _, z := range zones.AvailabilityZones {
		got = append(got, z.ZoneName+" "+z.State+" "+z.RegionName)
	}
	if want := []string{"eu-south-9a available " + testRegion, "eu-south-9c available " + testRegion}; !slices.Equal(got, want) {
		t.Errorf("describe-availability-zones: got %q, want %q", got, want)
	}

	_, err := e.CLI(t, alice, "ec2", "describe-availability-zones", "--filters", "Name=colour,Values=red")
	if err == nil || !strings.Contains(err.Error(), "(InvalidParameterValue)") || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown filter: got %v, want the CLI to report InvalidParameterValue naming the filter", err)
	}
}

const boto3Script = `
import json, os, sys
import boto3, botocore.config, botocore.exceptions
ec2 = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"],
                   config=botocore.config.Config(retries={"max_attempts": 1}))
out = {
    "regions": [r["RegionName"] for r in ec2.describe_regions(RegionNames=["` + testRegion + `"])["Regions"]],
    "zones": [z["ZoneName"] for z in ec2.describe_availability_zones(
        Filters=[{"Name": "zone-name", "Values": ["*b", "*c"]}])["AvailabilityZones"]],
    "platforms": [v["AttributeValue"] for a in ec2.describe_account_attributes(
        AttributeNames=["supported-platforms"])["AccountAttributes"] for v in a["AttributeValues"]],
}
try:
    ec2.describe_regions(Filters=[{"Name": "colour", "Values": ["red"]}])
except botocore.exceptions.ClientError as e:
    out["error"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
json.dump(out, sys.stdout)
`

func TestRegionsWithBoto3(t *testing.T) {
	e, alice := start(t)
	out, err := e.Boto3(t, alice, boto3Script)
	var got struct {
		Regions, Zones, Platforms []string
		Error                     []any
	}
	decodeOutput(t, out, err, &got)
	checks := []struct {
		name      string
		got, want any
	}{
		{"regions", got.Regions, []string{testRegion}},
		{"zones", got.Zones, []string{"eu-south-9b", "eu-south-9c"}},
		{"platforms", got.Platforms, []string{"VPC"}},
		{"unknown filter", got.Error, []any{"InvalidParameterValue", float64(400)}},
	}
	for _, c := range checks {
		if g, w := jsonOf(c.got), jsonOf(c.want); g != w {
			t.Errorf("%s: got %s, want %s", c.name, g, w)
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestUserDataNeverLogged: a RunInstances carrying UserData, signed right
// and wrong, leaves neither the UserData nor the secret in the server log.
func TestUserDataNeverLogged(t *testing.T) {
	e, alice := start(t)
	const userData = "IyEvYmluL3NoCmVjaG8gaHVzaC01YzFl" // "#!/bin/sh\necho hush-5c1e"
	wrong := *alice
	wrong.SecretAccessKey = "x" + alice.SecretAccessKey[1:]
	for _, c := range []*admin.Credentials{alice, &wrong} {
		_, _ = e.EC2(c).RunInstances(econetest.Context(t), &ec2.RunInstancesInput{
			ImageId: aws.String("ami-00000000"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), UserData: aws.String(userData),
		})
	}
	logs := e.Logs()
	if n := strings.Count(logs, `"message":"request"`); n < 2 {
		t.Fatalf("got %d access lines, want at least 2; log:\n%s", n, logs)
	}
	for _, s := range []string{userData, "hush-5c1e", alice.SecretAccessKey, wrong.SecretAccessKey} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains %q; log:\n%s", s, logs)
		}
	}
}
