package ec2

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/econe/econe-server/backend"
)

func TestAWSErrors(t *testing.T) {
	b := &EC2{
		ids:   map[string]string{"vol-0123456789abcdef0": "vol-0aaaa1111bbbb2222", "key-0123456789abcdef0": "econe-alice-laptop"},
		awsID: map[string]string{"vol-0aaaa1111bbbb2222": "vol-0123456789abcdef0", "econe-alice-laptop": "key-0123456789abcdef0"},
	}
	cases := []struct {
		name      string
		err       error
		code, msg string
		is        error
	}{
		{"throttled", &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded."}, "RequestLimitExceeded", "Request limit exceeded.", backend.ErrThrottled},
		{"throttled in other words", &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}, "RequestLimitExceeded", "Request limit exceeded.", backend.ErrThrottled},
		{"no capacity", &smithy.GenericAPIError{Code: "InsufficientInstanceCapacity", Message: "none left"}, "InsufficientInstanceCapacity", "none left", backend.ErrCapacity},
		{"no capacity in other words", &smithy.GenericAPIError{Code: "InsufficientHostCapacity", Message: "none left"}, "InsufficientInstanceCapacity", "none left", backend.ErrCapacity},
		{"own ids in the message", &smithy.GenericAPIError{Code: "VolumeInUse", Message: "vol-0aaaa1111bbbb2222 is already attached"}, "VolumeInUse", "vol-0123456789abcdef0 is already attached", nil},
		{"another's ids hidden", &smithy.GenericAPIError{Code: "VolumeInUse", Message: "vol-0aaaa1111bbbb2222 is attached to eni-0ffff0000eeee1111 of sg-0cccc3333dddd4444"}, "VolumeInUse", "vol-0123456789abcdef0 is attached to (unknown) of (unknown)", nil},
		{"own key name", &smithy.GenericAPIError{Code: "InvalidKeyPair.Duplicate", Message: "The keypair 'econe-alice-laptop' already exists."}, "InvalidKeyPair.Duplicate", "The keypair 'key-0123456789abcdef0' already exists.", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var be *backend.Error
			if !errors.As(b.awsError("op", c.err), &be) {
				t.Fatalf("got %v, want a *backend.Error", b.awsError("op", c.err))
			}
			if be.Code != c.code || be.Message != c.msg {
				t.Errorf("got %s %q, want %s %q", be.Code, be.Message, c.code, c.msg)
			}
			if c.is != nil && !errors.Is(be, c.is) {
				t.Errorf("errors.Is(%v, %v) = false, want true", be, c.is)
			}
		})
	}
	if err := b.awsError("op", errors.New("connection refused")); errors.As(err, new(*backend.Error)) {
		t.Errorf("a network error became %v, want an internal error", err)
	}
}
