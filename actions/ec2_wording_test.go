package actions

import (
	"testing"

	"github.com/econe/econe-server/ec2err"
)

// Errors whose words clients and course material quote: the code and the
// message are EC2's own, as its users report them.
func TestEC2Wording(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	mapping := func(kv ...string) []string {
		return append([]string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1"}, kv...)
	}
	cases := []struct {
		name     string
		action   string
		kv       []string
		code     string
		message  string
		succeeds bool
	}{
		{"CreateVolume without size or snapshot", "CreateVolume", []string{"AvailabilityZone", "us-east-1a"},
			ec2err.MissingParameter, "The request must contain the parameter size/snapshot", false},
		{"CreateTags without resources", "CreateTags", []string{"Tag.1.Key", "k", "Tag.1.Value", "v"},
			ec2err.MissingParameter, "The request must contain the parameter resourceIdSet", false},
		{"DeleteTags without resources", "DeleteTags", []string{"Tag.1.Key", "k"},
			ec2err.MissingParameter, "The request must contain the parameter resourceIdSet", false},
		{"mapping with neither Ebs nor NoDevice", "RunInstances", mapping("BlockDeviceMapping.1.DeviceName", "/dev/sdb"),
			ec2err.MissingParameter, "The request must contain the parameter ebs", false},
		{"root mapping with neither Ebs nor NoDevice", "RunInstances", mapping("BlockDeviceMapping.1.DeviceName", "/dev/sda1"),
			ec2err.MissingParameter, "The request must contain the parameter ebs", false},
		{"Ebs with neither size nor snapshot", "RunInstances", mapping("BlockDeviceMapping.1.DeviceName", "/dev/sdb", "BlockDeviceMapping.1.Ebs.VolumeType", "standard"),
			ec2err.MissingParameter, "The request must contain the parameter size or snapshotId", false},
		{"Ebs without size, whatever the key pair", "RunInstances", mapping("KeyName", "no-such-key", "BlockDeviceMapping.1.DeviceName", "/dev/sdb", "BlockDeviceMapping.1.Ebs.VolumeType", "standard"),
			ec2err.MissingParameter, "The request must contain the parameter size or snapshotId", false},
		{"no Ebs, whatever the key pair", "RunInstances", mapping("KeyName", "no-such-key", "BlockDeviceMapping.1.DeviceName", "/dev/sdb"),
			ec2err.MissingParameter, "The request must contain the parameter ebs", false},
		{"NoDevice needs no Ebs", "RunInstances", mapping("BlockDeviceMapping.1.DeviceName", "/dev/sdb", "BlockDeviceMapping.1.NoDevice", ""),
			"", "", true},
		{"Ebs with a size", "RunInstances", mapping("BlockDeviceMapping.1.DeviceName", "/dev/sdb", "BlockDeviceMapping.1.Ebs.VolumeSize", "2"),
			"", "", true},
	}
	for _, c := range cases {
		_, err := e.call(t, "alice", c.action, c.kv...)
		if c.succeeds {
			if err != nil {
				t.Errorf("%s: got %v, want success", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: got success, want %s: %s", c.name, c.code, c.message)
		} else if got := ec2err.As(err); got.Code != c.code || got.Message != c.message {
			t.Errorf("%s: got %v, want %s: %s", c.name, err, c.code, c.message)
		}
	}
}
