package server

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/econe/econe-server/ec2err"
)

// TestParameterLimits: a list or a filter longer than EC2 accepts is a 400
// with EC2's code, naming the parameter, whatever the action.
func TestParameterLimits(t *testing.T) {
	f := newFixture(t, nil)
	// numbered appends prefix.1.suffix .. prefix.n.suffix.
	numbered := func(kv []string, prefix, suffix string, n int) []string {
		for i := 1; i <= n; i++ {
			kv = append(kv, prefix+"."+strconv.Itoa(i)+suffix, "v"+strconv.Itoa(i))
		}
		return kv
	}
	cases := []struct {
		name        string
		kv          []string
		wantCode    string
		wantMessage string // a part of the message
	}{
		{"1001 region names", numbered([]string{"Action", "DescribeRegions"}, "RegionName", "", 1001),
			ec2err.InvalidRequest, "1001 exceeds the maximum number of RegionName values that can be specified (1000)"},
		{"1001 filters", numbered([]string{"Action", "DescribeAvailabilityZones"}, "Filter", ".Name", 1001),
			ec2err.InvalidRequest, "1001 exceeds the maximum number of Filter values"},
		{"201 filter values", numbered([]string{"Action", "DescribeAvailabilityZones", "Filter.1.Name", "zone-name"}, "Filter.1.Value", "", 201),
			ec2err.FilterLimitExceeded, "The maximum number of filter values specified on a single call is 200"},
		{"a filter value of 900,001 characters", []string{"Action", "DescribeAvailabilityZones", "Filter.1.Name", "zone-name", "Filter.1.Value.1", "*" + strings.Repeat("x", 900000)},
			ec2err.FilterLimitExceeded, "The maximum length for a filter value is 255 characters. Filter.1.Value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := checkError(t, do(t, f.signed(t, http.MethodGet, "/", params(c.kv...))), http.StatusBadRequest, c.wantCode)
			if !strings.Contains(msg, c.wantMessage) {
				t.Errorf("got message %q, want it to mention %q", msg, c.wantMessage)
			}
		})
	}
}
