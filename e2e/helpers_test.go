package e2e

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/econetest"
)

// Helpers shared by the client-driven tests of several families.

// decodeOutput decodes the JSON a client run (AWS CLI, boto3, boto 2)
// printed into v; a failed run or other output fails t.
func decodeOutput(t *testing.T, out string, err error, v any) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v in client output %q", err, out)
	}
}

// cliJSON runs the AWS CLI as c and decodes its JSON output into v.
func cliJSON(t *testing.T, e *econetest.Env, c *admin.Credentials, v any, args ...string) {
	t.Helper()
	out, err := e.CLI(t, c, args...)
	decodeOutput(t, out, err, v)
}

// apiCode is the EC2 code of an SDK error, or the error itself (so a
// mismatch shows it) when it carries none.
func apiCode(err error) string {
	if code, _ := apiError(err); code != "" {
		return code
	}
	return fmt.Sprint(err)
}

// boto3WithCode starts a boto3 script: an EC2 client for the server under
// test, and code(f, **kw), which calls f and returns "ok" or the error's
// "Code HTTPStatus".
const boto3WithCode = `
import os, sys, json, boto3, botocore
ec2 = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"])
def code(f, **kw):
    try:
        f(**kw)
    except botocore.exceptions.ClientError as e:
        return "%s %d" % (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
    return "ok"
`

// boto3Failure is the error a boto3 call answered with ({} on success).
type boto3Failure struct {
	Code    string
	Status  int
	Message string
}

// boto3Error runs setup (a line of Python, e.g. an environment change),
// then calls the EC2 client's method with no arguments and no retries, and
// returns the error it got.
func boto3Error(t *testing.T, e *econetest.Env, c *admin.Credentials, setup, method string) boto3Failure {
	t.Helper()
	out, err := e.Boto3(t, c, `
import json, os, sys
import boto3, botocore.config, botocore.exceptions
`+setup+`
ec2 = boto3.client("ec2", endpoint_url=os.environ["ECONE_ENDPOINT"],
                   config=botocore.config.Config(retries={"max_attempts": 1}))
try:
    ec2.`+method+`()
    json.dump({}, sys.stdout)
except botocore.exceptions.ClientError as e:
    json.dump({"code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
               "message": e.response["Error"]["Message"]}, sys.stdout)
`)
	var got boto3Failure
	decodeOutput(t, out, err, &got)
	return got
}
