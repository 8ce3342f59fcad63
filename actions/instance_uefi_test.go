package actions

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/econe/econe-server/ec2err"
)

func TestGetInstanceUefiData(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice")[0]
	cases := []struct {
		name string
		user string
		kv   []string
		code string // "" = the instance's id and empty data
	}{
		{"own instance", "alice", []string{"InstanceId", id}, ""},
		{"no instance id", "alice", nil, ec2err.MissingParameter},
		{"malformed id", "alice", []string{"InstanceId", "i-nothex"}, ec2err.InvalidInstanceIDMalformed},
		{"unknown instance", "alice", []string{"InstanceId", "i-0123456789abcdef0"}, ec2err.InvalidInstanceIDNotFound},
		{"a classmate's instance", "bob", []string{"InstanceId", id}, ec2err.InvalidInstanceIDNotFound},
		{"dry run", "alice", []string{"InstanceId", id, "DryRun", "true"}, ec2err.DryRunOperation},
	}
	for _, c := range cases {
		resp, err := e.call(t, c.user, "GetInstanceUefiData", c.kv...)
		if c.code != "" {
			if !ec2err.Is(err, c.code) {
				t.Errorf("%s: got %v, want %s", c.name, err, c.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: got %v, want success", c.name, err)
			continue
		}
		// uefiData is present and empty: the SDKs then show "" rather than nothing.
		out, _ := xml.Marshal(resp)
		if want := "<instanceId>" + id + "</instanceId><uefiData></uefiData>"; !strings.Contains(string(out), want) {
			t.Errorf("%s: got %s, want it to contain %s", c.name, out, want)
		}
	}
}
