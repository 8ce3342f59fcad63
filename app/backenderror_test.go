package app_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/backend/sim"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/econetest"
)

// refusing is the sim answering Reboot with whatever error the test set,
// in the cloud's words: a message naming its own machine id.
type refusing struct {
	backend.Backend
}

var (
	refuseMu   sync.Mutex
	refuseCode string
)

func (r refusing) Reboot(ctx context.Context, id string) error {
	refuseMu.Lock()
	defer refuseMu.Unlock()
	return &backend.Error{Code: refuseCode, Message: "The machine '" + id + "' says no."}
}

func init() {
	backend.Register("refusing-test", func(deps backend.Deps) (backend.Backend, error) {
		s, err := sim.Open(deps)
		return refusing{s}, err
	})
}

// A backend's error with an EC2 code reaches the student through the real
// server as that code, with EC2's HTTP status, and names the student's
// instance, not the backend's machine.
func TestBackendErrorReachesClient(t *testing.T) {
	e := econetest.Start(t, func(c *conf.Config) { c.Backend.Name = "refusing-test" })
	alice := e.User(t, "alice")
	client := e.EC2(alice)
	ctx := econetest.Context(t)
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: strPtr("ami-0a1b2c3d4e5f60001"), MinCount: i32(1), MaxCount: i32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := *run.Instances[0].InstanceId
	if _, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		code   string
		status int
	}{
		{ec2err.RequestLimitExceeded, 503},
		{ec2err.InsufficientInstanceCapacity, 400},
		{"InvalidSubnetID.NotFound", 400}, // a code of EC2's that econe-server does not declare
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			refuseMu.Lock()
			refuseCode = c.code
			refuseMu.Unlock()
			_, err := client.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: []string{id}})
			var api smithy.APIError
			var resp *awshttp.ResponseError
			if !errors.As(err, &api) || !errors.As(err, &resp) {
				t.Fatalf("got %v, want an API error", err)
			}
			if api.ErrorCode() != c.code || resp.HTTPStatusCode() != c.status {
				t.Errorf("got %s (HTTP %d), want %s (HTTP %d)", api.ErrorCode(), resp.HTTPStatusCode(), c.code, c.status)
			}
			if msg := api.ErrorMessage(); !strings.Contains(msg, id) || strings.Contains(msg, "sim-") {
				t.Errorf("message %q: want the instance id %s, not the backend's machine id", msg, id)
			}
		})
	}
}

func strPtr(s string) *string { return &s }
func i32(n int32) *int32      { return &n }
