package e2e

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/econetest"
)

// identity is what every client reports of the caller.
type identity struct {
	Account, Arn, UserID, UserName string
}

var userIDRE = regexp.MustCompile(`^AIDA[A-Z0-9]{17}$`)

// wantIdentity checks got against the student's account (the OwnerId of
// their resources) and name.
func wantIdentity(t *testing.T, e *econetest.Env, client, name string, got identity) {
	t.Helper()
	info, err := e.App.Users.Show(name)
	if err != nil {
		t.Fatal(err)
	}
	want := identity{Account: info.AccountID, Arn: "arn:aws:iam::" + info.AccountID + ":user/" + name, UserID: got.UserID, UserName: got.UserName}
	if got != want {
		t.Errorf("%s as %s: got %+v, want %+v", client, name, got, want)
	}
	if !userIDRE.MatchString(got.UserID) {
		t.Errorf("%s as %s: got UserId %q, want AIDA and 17 letters or digits", client, name, got.UserID)
	}
}

// TestCallerIdentity: `aws sts get-caller-identity`, boto3 and
// aws-sdk-go-v2 each see the student's own account, the same for every
// client and another for a classmate; IAM GetUser agrees.
func TestCallerIdentity(t *testing.T) {
	e, alice := start(t)
	bob := e.User(t, "bob")
	ctx := econetest.Context(t)
	userIDs := map[string]string{}
	for name, c := range map[string]*admin.Credentials{"alice": alice, "bob": bob} {
		var cli struct{ Account, Arn, UserId string }
		cliJSON(t, e, c, &cli, "sts", "get-caller-identity")
		wantIdentity(t, e, "aws sts get-caller-identity", name, identity{Account: cli.Account, Arn: cli.Arn, UserID: cli.UserId})

		var cliUser struct {
			User struct{ UserName, UserId, Arn, Path string }
		}
		cliJSON(t, e, c, &cliUser, "iam", "get-user")
		u := cliUser.User
		if u.UserName != name || u.UserId != cli.UserId || u.Arn != cli.Arn || u.Path != "/" {
			t.Errorf("aws iam get-user as %s: got %+v, want user %s, id %s, ARN %s, path /", name, u, name, cli.UserId, cli.Arn)
		}

		var py struct{ Account, Arn, UserId, UserName string }
		out, err := e.Boto3(t, c, boto3WithCode+`
sts = boto3.client("sts", endpoint_url=os.environ["ECONE_ENDPOINT"])
iam = boto3.client("iam", endpoint_url=os.environ["ECONE_ENDPOINT"])
me = sts.get_caller_identity()
user = iam.get_user()["User"]
print(json.dumps({"Account": me["Account"], "Arn": me["Arn"], "UserId": me["UserId"], "UserName": user["UserName"]}))
`)
		decodeOutput(t, out, err, &py)
		wantIdentity(t, e, "boto3", name, identity{Account: py.Account, Arn: py.Arn, UserID: py.UserId, UserName: py.UserName})
		if py.UserId != cli.UserId || py.UserName != name {
			t.Errorf("boto3 as %s: got UserId %q and user %q, want %q and %q as the CLI saw", name, py.UserId, py.UserName, cli.UserId, name)
		}

		me, err := e.STS(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("aws-sdk-go-v2 GetCallerIdentity as %s: %v", name, err)
		}
		wantIdentity(t, e, "aws-sdk-go-v2", name, identity{Account: aws.ToString(me.Account), Arn: aws.ToString(me.Arn), UserID: aws.ToString(me.UserId)})
		user, err := e.IAM(c).GetUser(ctx, &iam.GetUserInput{})
		if err != nil {
			t.Fatalf("aws-sdk-go-v2 GetUser as %s: %v", name, err)
		}
		if got := user.User; aws.ToString(got.UserName) != name || aws.ToString(got.UserId) != cli.UserId || got.CreateDate == nil || got.CreateDate.IsZero() {
			t.Errorf("aws-sdk-go-v2 GetUser as %s: got %s, %s, created %v; want %s, %s, a creation date", name,
				aws.ToString(got.UserName), aws.ToString(got.UserId), got.CreateDate, name, cli.UserId)
		}
		userIDs[name] = cli.UserId
	}
	if userIDs["alice"] == userIDs["bob"] {
		t.Errorf("got UserId %q for both students, want one each", userIDs["alice"])
	}
}

// TestIdentityErrors: the errors real clients get from STS and IAM, in
// those services' envelopes: a classmate's user does not exist, a wrong
// secret and a scope for the wrong service are SignatureDoesNotMatch.
func TestIdentityErrors(t *testing.T) {
	e, alice := start(t)
	e.User(t, "bob")
	ctx := econetest.Context(t)

	// aws-sdk-go-v2 parses the IAM envelope into its typed error.
	_, err := e.IAM(alice).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")})
	var noUser *iamtypes.NoSuchEntityException
	if code, status := apiError(err); !errors.As(err, &noUser) || status != 404 {
		t.Errorf("aws-sdk-go-v2 GetUser of a classmate: got %v (%s %d), want NoSuchEntityException 404", err, code, status)
	}
	wrong := &admin.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "wrong" + alice.SecretAccessKey}
	_, err = e.STS(wrong).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, status := apiError(err); code != "SignatureDoesNotMatch" || status != 403 {
		t.Errorf("aws-sdk-go-v2 GetCallerIdentity with a wrong secret: got %s %d (%v), want SignatureDoesNotMatch 403", code, status, err)
	}

	// boto3: botocore's own signer makes the requests signed for the
	// wrong service.
	out, err := e.Boto3(t, alice, boto3WithCode+`
import urllib.request, urllib.error, re, html
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
sts = boto3.client("sts", endpoint_url=os.environ["ECONE_ENDPOINT"])
iam = boto3.client("iam", endpoint_url=os.environ["ECONE_ENDPOINT"])
creds = boto3.Session().get_credentials()
def signed_for(service, action, version):
    req = AWSRequest(method="POST", url=os.environ["ECONE_ENDPOINT"] + "/", data="Action=%s&Version=%s" % (action, version),
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds, service, os.environ["AWS_DEFAULT_REGION"]).add_auth(req)
    try:
        urllib.request.urlopen(urllib.request.Request(req.url, data=req.body, headers=dict(req.headers), method="POST"))
        return "ok"
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        ns = re.search(r'xmlns="([^"]*)"', body)
        code = re.search(r"<Code>([^<]*)</Code>", body)
        msg = re.search(r"<Message>([^<]*)</Message>", body)
        return "%s %d %s %s" % (code.group(1), e.code, ns.group(1) if ns else "-", html.unescape(msg.group(1)))
print(json.dumps({
    "classmate": code(iam.get_user, UserName="bob"),
    "nobody": code(iam.get_user, UserName="mallory"),
    "sts signed for ec2": signed_for("ec2", "GetCallerIdentity", "2011-06-15"),
    "ec2 signed for sts": signed_for("sts", "DescribeRegions", "2016-11-15"),
    "unknown sts action": signed_for("sts", "AssumeRole", "2011-06-15"),
    "unknown iam action": signed_for("iam", "CreateUser", "2010-05-08"),
}))
`)
	var got map[string]string
	decodeOutput(t, out, err, &got)
	want := map[string]string{
		"classmate":          "NoSuchEntity 404",
		"nobody":             "NoSuchEntity 404",
		"sts signed for ec2": "SignatureDoesNotMatch 403 https://sts.amazonaws.com/doc/2011-06-15/ Credential should be scoped to correct service: 'sts'.",
		"ec2 signed for sts": "AuthFailure 401 - Credential should be scoped to correct service: 'ec2'.",
		"unknown sts action": "InvalidAction 400 https://sts.amazonaws.com/doc/2011-06-15/ The action AssumeRole is not valid for this web service.",
		"unknown iam action": "InvalidAction 400 https://iam.amazonaws.com/doc/2010-05-08/ The action CreateUser is not valid for this web service.",
	}
	for k, w := range want {
		if !strings.HasPrefix(got[k], w) {
			t.Errorf("boto3, %s: got %q, want it to start with %q", k, got[k], w)
		}
	}
}
