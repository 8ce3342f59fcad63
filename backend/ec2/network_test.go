package ec2_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/backend/ec2"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// The course network is every student's default VPC: moto's account has
// AWS's default VPC, 172.31.0.0/16, with a default /20 in each zone.
func TestDefaultNetworkIsTheCourses(t *testing.T) {
	endpoint := econetest.Moto(t)
	st, err := store.OpenBolt(t.TempDir()+"/db", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config(endpoint)
	b, err := ec2.New(backend.Deps{Config: cfg, Store: store.NewSpace(st, "ec2"), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	n := backend.Discover(b).Network
	if n == nil {
		t.Fatal("got no Network ability, want the course network")
	}
	got := n.DefaultNetwork()
	if got.CIDR != "172.31.0.0/16" || len(got.Subnets) != len(cfg.AvailabilityZones) {
		t.Fatalf("got %+v, want 172.31.0.0/16 with a subnet in each of %v", got, cfg.AvailabilityZones)
	}
	vpc := netip.MustParsePrefix(got.CIDR)
	for zone, cidr := range got.Subnets {
		if p, err := netip.ParsePrefix(cidr); err != nil || p.Bits() != 20 || !vpc.Contains(p.Addr()) {
			t.Errorf("zone %s: got subnet %s, want a /20 of %s", zone, cidr, vpc)
		}
	}
}
