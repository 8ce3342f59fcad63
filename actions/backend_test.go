package actions

import (
	"testing"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// A backend's refusal never names another's machine, and a machine not
// found is the student's instance not found, by the student's id.
func TestBackendErrorNamesOnlyOwnInstances(t *testing.T) {
	mine := &store.Instance{ID: "i-0123456789abcdef0", BackendID: "i-0aaaa1111bbbb2222"}
	cases := []struct {
		name      string
		err       error
		insts     []*store.Instance
		code, msg string
	}{
		{"not found, by the student's id", backend.ErrNotFound, []*store.Instance{mine}, ec2err.InvalidInstanceIDNotFound, "The instance ID 'i-0123456789abcdef0' does not exist"},
		{"own machine renamed", &backend.Error{Code: "IncorrectInstanceState", Message: "i-0aaaa1111bbbb2222 is stopping"}, []*store.Instance{mine}, "IncorrectInstanceState", "i-0123456789abcdef0 is stopping"},
		{"not found about another's machine, by the student's id", &backend.Error{Code: "InvalidInstanceID.NotFound", Message: "The instance ID 'i-0ffff0000eeee1111' does not exist"}, []*store.Instance{mine}, ec2err.InvalidInstanceIDNotFound, "The instance ID 'i-0123456789abcdef0' does not exist"},
		{"another's machine hidden", &backend.Error{Code: "IncorrectInstanceState", Message: "i-0aaaa1111bbbb2222 shares a host with i-0ffff0000eeee1111"}, []*store.Instance{mine}, "IncorrectInstanceState", "i-0123456789abcdef0 shares a host with (unknown)"},
		{"hidden without instances too", &backend.Error{Code: "VolumeInUse", Message: "vol-0123456789abcdef0 is attached to i-0ffff0000eeee1111"}, nil, "VolumeInUse", "vol-0123456789abcdef0 is attached to (unknown)"},
	}
	for _, c := range cases {
		var got *ec2err.Error
		if e, ok := backendError(c.err, refusals{}, c.insts...).(*ec2err.Error); ok {
			got = e
		}
		if got == nil || got.Code != c.code || got.Message != c.msg {
			t.Errorf("%s: got %v, want %s %q", c.name, got, c.code, c.msg)
		}
	}
}
