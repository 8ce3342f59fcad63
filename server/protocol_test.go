package server

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/econe/econe-server/ec2err"
)

const (
	stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"
	iamNS = "https://iam.amazonaws.com/doc/2010-05-08/"
)

// signedFor builds a POST of p signed as alice for service, with the given
// secret and session token ("" = alice's secret, no token).
func (f *fixture) signedFor(t *testing.T, service, secret, token string, p url.Values) *http.Request {
	t.Helper()
	req, body := f.newRequest(t, http.MethodPost, "/", p)
	if secret == "" {
		secret = f.cred.SecretAccessKey
	}
	creds := aws.Credentials{AccessKeyID: f.cred.AccessKeyID, SecretAccessKey: secret, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), service, "us-east-1", testNow); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return req
}

// TestQuerySuccessEnvelope: STS and IAM answer in the query protocol's
// envelope, their namespace, the Result wrapper and ResponseMetadata.
func TestQuerySuccessEnvelope(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name, service string
		params        url.Values
		wantNS        string
		wantShape     []string
	}{
		{"GetCallerIdentity", "sts", params("Action", "GetCallerIdentity", "Version", "2011-06-15"), stsNS, []string{
			"GetCallerIdentityResponse",
			"GetCallerIdentityResponse/GetCallerIdentityResult",
			"GetCallerIdentityResponse/GetCallerIdentityResult/UserId",
			"GetCallerIdentityResponse/GetCallerIdentityResult/Account",
			"GetCallerIdentityResponse/GetCallerIdentityResult/Arn",
			"GetCallerIdentityResponse/ResponseMetadata",
			"GetCallerIdentityResponse/ResponseMetadata/RequestId",
		}},
		{"GetUser", "iam", params("Action", "GetUser", "Version", "2010-05-08"), iamNS, []string{
			"GetUserResponse",
			"GetUserResponse/GetUserResult",
			"GetUserResponse/GetUserResult/User",
			"GetUserResponse/GetUserResult/User/Path",
			"GetUserResponse/GetUserResult/User/UserName",
			"GetUserResponse/GetUserResult/User/UserId",
			"GetUserResponse/GetUserResult/User/Arn",
			"GetUserResponse/GetUserResult/User/CreateDate",
			"GetUserResponse/ResponseMetadata",
			"GetUserResponse/ResponseMetadata/RequestId",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, f.signedFor(t, c.service, "", "", c.params))
			if got.status != http.StatusOK {
				t.Fatalf("got status %d, want 200; body:\n%s", got.status, got.body)
			}
			if shape := elementPaths(t, got.body); !slices.Equal(shape, c.wantShape) {
				t.Errorf("got elements\n%q\nwant\n%q", shape, c.wantShape)
			}
			var doc struct {
				XMLNS     string `xml:"xmlns,attr"`
				RequestID string `xml:"ResponseMetadata>RequestId"`
			}
			if err := xml.Unmarshal(got.body, &doc); err != nil {
				t.Fatalf("unmarshal: %v\n%s", err, got.body)
			}
			if doc.XMLNS != c.wantNS {
				t.Errorf("got xmlns %q, want %q", doc.XMLNS, c.wantNS)
			}
			if !uuidRE.MatchString(doc.RequestID) || got.header.Get("X-Amzn-Requestid") != doc.RequestID {
				t.Errorf("got RequestId %q and header %q, want the same UUID", doc.RequestID, got.header.Get("X-Amzn-Requestid"))
			}
		})
	}
}

type queryErrorDoc struct {
	XMLNS string `xml:"xmlns,attr"`
	Error struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

var queryErrorShape = []string{
	"ErrorResponse",
	"ErrorResponse/Error",
	"ErrorResponse/Error/Type",
	"ErrorResponse/Error/Code",
	"ErrorResponse/Error/Message",
	"ErrorResponse/RequestId",
}

// checkQueryError asserts the query protocol's error envelope in the
// namespace ns and returns its message.
func checkQueryError(t *testing.T, got reply, ns string, wantStatus int, wantCode string) (message string) {
	t.Helper()
	if got.status != wantStatus {
		t.Errorf("got status %d, want %d; body:\n%s", got.status, wantStatus, got.body)
	}
	if shape := elementPaths(t, got.body); !slices.Equal(shape, queryErrorShape) {
		t.Fatalf("got elements %q, want %q", shape, queryErrorShape)
	}
	var doc queryErrorDoc
	if err := xml.Unmarshal(got.body, &doc); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if doc.XMLNS != ns {
		t.Errorf("got xmlns %q, want %q", doc.XMLNS, ns)
	}
	if doc.Error.Type != "Sender" {
		t.Errorf("got Type %q, want Sender", doc.Error.Type)
	}
	if doc.Error.Code != wantCode {
		t.Errorf("got code %q (%s), want %q", doc.Error.Code, doc.Error.Message, wantCode)
	}
	if !uuidRE.MatchString(doc.RequestID) || got.header.Get("X-Amzn-Requestid") != doc.RequestID {
		t.Errorf("got RequestId %q and header %q, want the same UUID", doc.RequestID, got.header.Get("X-Amzn-Requestid"))
	}
	return doc.Error.Message
}

// TestServiceScopeAndErrors: the action decides the service its scope must
// name and the envelope of every error; an unknown action is answered in
// the protocol of the service it was signed for.
func TestServiceScopeAndErrors(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.users.Add("bob", ""); err != nil {
		t.Fatal(err)
	}
	identity := params("Action", "GetCallerIdentity", "Version", "2011-06-15")
	unsigned := func(t *testing.T) *http.Request {
		req, _ := f.newRequest(t, http.MethodPost, "/", identity)
		return req
	}
	sign := func(service, secret, token string, kv ...string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request { return f.signedFor(t, service, secret, token, params(kv...)) }
	}
	cases := []struct {
		name       string
		build      func(t *testing.T) *http.Request
		ns         string // "" = EC2's envelope
		wantStatus int
		wantCode   string
		wantParts  []string
	}{
		{"GetCallerIdentity signed for ec2", sign("ec2", "", "", "Action", "GetCallerIdentity"), stsNS, 403, ec2err.SignatureDoesNotMatch,
			[]string{"Credential should be scoped to correct service: 'sts'.", `"ec2"`}},
		{"GetUser signed for sts", sign("sts", "", "", "Action", "GetUser"), iamNS, 403, ec2err.SignatureDoesNotMatch,
			[]string{"Credential should be scoped to correct service: 'iam'."}},
		{"DescribeRegions signed for sts", sign("sts", "", "", "Action", "DescribeRegions"), "", 401, ec2err.AuthFailure,
			[]string{"Credential should be scoped to correct service: 'ec2'."}},
		{"an STS action not served", sign("sts", "", "", "Action", "AssumeRole", "Version", "2011-06-15"), stsNS, 400, ec2err.InvalidAction, []string{"AssumeRole"}},
		{"an IAM action not served", sign("iam", "", "", "Action", "ListUsers", "Version", "2010-05-08"), iamNS, 400, ec2err.InvalidAction, []string{"ListUsers"}},
		{"an unknown action signed for ec2", sign("ec2", "", "", "Action", "AssumeRole"), "", 400, ec2err.InvalidAction, nil},
		{"a classmate's user", sign("iam", "", "", "Action", "GetUser", "UserName", "bob"), iamNS, 404, ec2err.NoSuchEntity,
			[]string{"The user with name bob cannot be found."}},
		{"unsigned", unsigned, stsNS, 403, ec2err.MissingAuthenticationToken, []string{"Request is missing Authentication Token."}},
		{"wrong secret", sign("sts", "not-the-secret", "", "Action", "GetCallerIdentity"), stsNS, 403, ec2err.SignatureDoesNotMatch,
			[]string{"The request signature we calculated does not match"}},
		{"session token", sign("sts", "", "FwoGZXIvYXdzEXAMPLETOKEN", "Action", "GetCallerIdentity"), stsNS, 403, ec2err.InvalidClientTokenId,
			[]string{"The security token included in the request is invalid.", "AWS_SESSION_TOKEN"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, c.build(t))
			var msg string
			if c.ns == "" {
				msg = checkError(t, got, c.wantStatus, c.wantCode)
			} else {
				msg = checkQueryError(t, got, c.ns, c.wantStatus, c.wantCode)
			}
			for _, part := range c.wantParts {
				if !strings.Contains(msg, part) {
					t.Errorf("got message %q, want it to contain %q", msg, part)
				}
			}
		})
	}
}
