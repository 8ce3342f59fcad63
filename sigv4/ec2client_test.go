package sigv4

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// TestEC2ClientEndToEnd runs the real aws-sdk-go-v2 EC2 client against a
// test server that verifies with this package, so every header the SDK's
// middleware adds (invocation id, retry info, user agent, content length)
// goes over a real socket.
func TestEC2ClientEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var results []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		body, _ := io.ReadAll(hr.Body)
		_, err := Verify(serverRequest(hr, body), testLookup, Options{Now: time.Now(), EnforceRegion: true, Region: "us-east-1", Service: "ec2"})
		mu.Lock()
		results = append(results, err)
		mu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `<Response><Errors><Error><Code>AuthFailure</Code><Message>x</Message></Error></Errors><RequestID>r</RequestID></Response>`)
			return
		}
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		io.WriteString(w, `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet/></DescribeInstancesResponse>`)
	}))
	defer srv.Close()

	client := func(akid, secret, token, region string) *ec2.Client {
		return ec2.New(ec2.Options{
			Region:           region,
			BaseEndpoint:     aws.String(srv.URL),
			RetryMaxAttempts: 1,
			HTTPClient:       srv.Client(),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}, nil
			}),
		})
	}
	cases := []struct {
		name                        string
		akid, secret, token, region string
		want                        Kind
	}{
		{"valid", testAKID, testSecret, "", "us-east-1", 0},
		{"wrong secret", testAKID, otherSec, "", "us-east-1", KindMismatch},
		{"unknown key", "AKIANOBODY", testSecret, "", "us-east-1", KindUnknownKey},
		{"wrong region", testAKID, testSecret, "", "eu-west-1", KindWrongRegion},
		{"session token", testAKID, testSecret, "FwoGZXIvYXdzEXAMPLETOKEN", "us-east-1", KindSecurityToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			results = nil
			mu.Unlock()
			_, callErr := client(tc.akid, tc.secret, tc.token, tc.region).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
			mu.Lock()
			defer mu.Unlock()
			if len(results) != 1 {
				t.Fatalf("server saw %d requests, want 1 (client error %v)", len(results), callErr)
			}
			if got := kindOf(results[0]); got != tc.want {
				t.Errorf("Verify: got kind %v (err %v), want kind %v", got, results[0], tc.want)
			}
			if (callErr == nil) != (tc.want == 0) {
				t.Errorf("client: got err %v, want success=%v", callErr, tc.want == 0)
			}
		})
	}
}
