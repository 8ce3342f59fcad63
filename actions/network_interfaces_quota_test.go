package actions

import (
	"strings"
	"testing"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
)

// The interfaces a student creates count toward max_network_interfaces
// (their instances' own primary interfaces do not): the next one past the
// limit is refused with EC2's code, a deleted one frees its slot, and a
// classmate's count is their own.
func TestNetworkInterfaceQuota(t *testing.T) {
	cfg := conf.Default()
	cfg.Quota.MaxNetworkInterfaces = quota.Int(2)
	n := newNetEnv(t, cfg)
	n.run(t, "alice", "SubnetId", n.sub["alice"]) // its primary interface is not counted
	first := n.createENI(t, "alice", "SubnetId", n.sub["alice"]).NetworkInterfaceID
	n.createENI(t, "alice", "SubnetId", n.sub["alice"])
	_, err := n.call(t, "alice", "CreateNetworkInterface", "SubnetId", n.sub["alice"])
	wantCode(t, err, ec2err.NetworkInterfaceLimitExceeded)
	if err == nil || !strings.Contains(err.Error(), "max_network_interfaces is 2, you have 2") {
		t.Errorf("third interface: got %v, want a message naming max_network_interfaces is 2, you have 2", err)
	}
	if got := len(n.interfaces(t, "alice")); got != 3 { // two of hers and the instance's
		t.Errorf("alice's interfaces after the refusal: got %d, want 3", got)
	}
	n.createENI(t, "bob", "SubnetId", n.sub["bob"])
	n.createENI(t, "bob", "SubnetId", n.sub["bob"])
	n.mustCall(t, "alice", "DeleteNetworkInterface", "NetworkInterfaceId", first)
	n.createENI(t, "alice", "SubnetId", n.sub["alice"])
	for _, owner := range []string{"alice", "bob"} {
		checkBooks(t, n.svc, owner)
	}
	if got := *quota.Builtin().MaxNetworkInterfaces; got != 20 {
		t.Errorf("builtin max_network_interfaces: got %d, want 20, one per instance a student may run", got)
	}
}
