package actions

import (
	"testing"

	"github.com/econe/econe-server/conf"
)

// TestZoneIDs: zone ids are EC2's short forms (use1-az1), numbered in
// configuration order; a region not named like AWS's keeps its name.
func TestZoneIDs(t *testing.T) {
	cases := []struct{ region, want string }{
		{"us-east-1", "use1-az2"},
		{"ap-southeast-3", "apse3-az2"},
		{"ap-northeast-1", "apne1-az2"},
		{"eu-central-1", "euc1-az2"},
		{"cn-northwest-1", "cnnw1-az2"},
		{"us-gov-west-1", "usgw1-az2"},
		{"sa-east-1", "sae1-az2"},
		{"campus", "campus-az2"},
		{"lab-north-x", "lab-north-x-az2"},
	}
	for _, c := range cases {
		t.Run(c.region, func(t *testing.T) {
			cfg := conf.Default()
			cfg.Region, cfg.AvailabilityZones = c.region, []string{c.region + "a", c.region + "b"}
			e := newTestEnv(t, cfg)
			resp := e.mustCall(t, "alice", "DescribeAvailabilityZones", "ZoneId.1", c.want).(*describeZonesResponse)
			if len(resp.Zones) != 1 || resp.Zones[0].ZoneName != c.region+"b" {
				t.Errorf("got zones %+v for ZoneId %s, want %sb", resp.Zones, c.want, c.region)
			}
		})
	}
}
