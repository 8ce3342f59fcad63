package metrics

import (
	"testing"

	"github.com/econe/econe-server/ec2err"
	dto "github.com/prometheus/client_model/go"
)

// A request refused by a quota is counted under its kind: every code
// quota.Check answers with has one.
func TestQuotaRefusalKinds(t *testing.T) {
	for _, c := range []struct{ code, kind string }{
		{ec2err.InstanceLimitExceeded, "instances"},
		{ec2err.ResourceLimitExceeded, "resources"},
		{ec2err.NetworkInterfaceLimitExceeded, "network_interfaces"},
		{ec2err.VpcLimitExceeded, "vpcs"},
	} {
		m := New([]string{"CreateNetworkInterface"})
		m.RequestDone("CreateNetworkInterface", c.code, 0)
		var got dto.Metric
		if err := m.quotaRefusals.WithLabelValues(c.kind).Write(&got); err != nil {
			t.Fatal(err)
		}
		if v := got.GetCounter().GetValue(); v != 1 {
			t.Errorf("%s: got %v refusals of kind %s, want 1", c.code, v, c.kind)
		}
	}
}
