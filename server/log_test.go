package server

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/econe/econe-server/ec2err"
)

// accessLines returns the access log lines ("request") of one request id.
func accessLines(t *testing.T, logs, requestID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(logs), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, raw)
		}
		if line["request_id"] == requestID && line["message"] == "request" {
			out = append(out, line)
		}
	}
	return out
}

// accessLine returns the one access line of a request.
func accessLine(t *testing.T, logs, requestID string) map[string]any {
	t.Helper()
	lines := accessLines(t, logs, requestID)
	if len(lines) != 1 {
		t.Fatalf("got %d access lines for request %s, want 1; log:\n%s", len(lines), requestID, logs)
	}
	return lines[0]
}

var loopbackRE = regexp.MustCompile(`^127\.0\.0\.1:\d+$`)

func TestAccessLogLine(t *testing.T) {
	f := newFixture(t, nil)
	unknownKey := func(t *testing.T) *http.Request {
		req, body := f.newRequest(t, http.MethodPost, "/", params("Action", "DescribeRegions"))
		signV4(t, req, body, "AKIAUNKNOWN000000000", f.cred.SecretAccessKey)
		return req
	}
	cases := []struct {
		name       string
		build      func(t *testing.T) *http.Request
		wantAction string
		wantUser   string // "" = not authenticated, no user field
		wantStatus int
		wantCode   string // "" = success, no error_code field
	}{
		{"success", func(t *testing.T) *http.Request {
			return f.signed(t, http.MethodPost, "/", params("Action", "DescribeRegions"))
		}, "DescribeRegions", "alice", 200, ""},
		{"client error", func(t *testing.T) *http.Request {
			return f.signed(t, http.MethodGet, "/", params("Action", "DescribeUnicorns"))
		}, "DescribeUnicorns", "alice", 400, ec2err.InvalidAction},
		{"unsigned", func(t *testing.T) *http.Request {
			req, _ := f.newRequest(t, http.MethodPost, "/", params("Action", "DescribeRegions"))
			return req
		}, "DescribeRegions", "", 401, ec2err.MissingAuthenticationToken},
		{"unknown key", unknownKey, "DescribeRegions", "", 401, ec2err.AuthFailure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, c.build(t))
			line := accessLine(t, f.logs.String(), got.header.Get("X-Amzn-Requestid"))
			want := map[string]any{"action": c.wantAction, "status": float64(c.wantStatus), "level": "info"}
			if c.wantUser != "" {
				want["user"] = c.wantUser
			}
			if c.wantCode != "" {
				want["error_code"] = c.wantCode
			}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("got %s=%v, want %v (line %v)", k, line[k], v, line)
				}
			}
			for _, k := range []string{"user", "error_code"} {
				if _, has := line[k]; has && want[k] == nil {
					t.Errorf("got %s=%v, want no %s field", k, line[k], k)
				}
			}
			if _, ok := line["duration"].(float64); !ok {
				t.Errorf("got duration %v, want a number", line["duration"])
			}
			if r, _ := line["remote"].(string); !loopbackRE.MatchString(r) {
				t.Errorf("got remote %q, want 127.0.0.1:PORT", r)
			}
		})
	}
}

// TestLogNeverHoldsSecrets sends UserData in every way a request can carry
// it, signed right and wrong (a mismatch explanation quotes the canonical
// request to the client), and checks that neither the secret key, the
// Authorization header, any signature nor the UserData reaches the log.
func TestLogNeverHoldsSecrets(t *testing.T) {
	f := newFixture(t, nil)
	// base64 of "#!/bin/sh\necho hush-5c1e": no characters URL encoding changes.
	const userData = "IyEvYmluL3NoCmVjaG8gaHVzaC01YzFl"
	secrets := []string{f.cred.SecretAccessKey, userData, "hush-5c1e"}
	send := func(req *http.Request) reply {
		if v := req.Header.Get("Authorization"); v != "" {
			secrets = append(secrets, v, v[strings.LastIndex(v, "=")+1:])
		}
		if sig := req.URL.Query().Get("X-Amz-Signature"); sig != "" {
			secrets = append(secrets, sig)
		}
		return do(t, req)
	}
	withUserData := params("Action", "DescribeRegions", "UserData", userData)

	got := send(f.signed(t, http.MethodPost, "/", withUserData))
	if got.status != http.StatusOK {
		t.Fatalf("signed POST with UserData: got status %d, want 200; body:\n%s", got.status, got.body)
	}

	tampered := f.signed(t, http.MethodGet, "/", withUserData)
	tampered.URL.RawQuery += "&InstanceType=m1.large"
	got = send(tampered)
	checkError(t, got, http.StatusUnauthorized, ec2err.AuthFailure)
	if !strings.Contains(string(got.body), userData) {
		t.Fatalf("tampered GET: got body %s, want the mismatch explanation to quote the request (else this test proves nothing)", got.body)
	}

	v2 := with(withUserData, "AWSAccessKeyId", f.cred.AccessKeyID, "SignatureVersion", "2", "SignatureMethod", "HmacSHA256",
		"Timestamp", testNow.Format("2006-01-02T15:04:05Z"), "Signature", "c2lnbmF0dXJlLXdyb25nLXdyb25nLXdyb25nLXdyb25nIQ==")
	secrets = append(secrets, v2.Get("Signature"))
	req, _ := f.newRequest(t, http.MethodGet, "/", v2)
	checkError(t, send(req), http.StatusUnauthorized, ec2err.AuthFailure)

	req, body := f.newRequest(t, http.MethodGet, "/", with(withUserData, "X-Amz-Expires", "300"))
	presigned, _, err := v4.NewSigner().PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: f.cred.AccessKeyID, SecretAccessKey: "wrong" + f.cred.SecretAccessKey},
		req, sha256Hex(body), "ec2", "us-east-1", testNow)
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	req, _ = http.NewRequest(http.MethodGet, presigned, nil)
	checkError(t, send(req), http.StatusUnauthorized, ec2err.AuthFailure)

	req, _ = f.newRequest(t, http.MethodPost, "/", withUserData)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+f.cred.AccessKeyID+"/20261121/us-east-1/ec2/aws4_request, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	checkError(t, send(req), http.StatusBadRequest, ec2err.IncompleteSignature)

	logs := f.logs.String()
	if n := strings.Count(logs, `"message":"request"`); n != 5 {
		t.Errorf("got %d access lines, want 5; log:\n%s", n, logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains %q; log:\n%s", s, logs)
		}
	}
}
