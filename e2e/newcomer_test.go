package e2e

import (
	"strings"
	"testing"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
)

// TestNewcomerOnDefaultConfig is a first lab on exactly the configuration
// `econe-server start` uses with no file (the sim's real delays, its
// default address pool), through the stock AWS CLI: an elastic IP on an
// instance that booted while nobody described it, a volume attached and
// detached, and a second student who can neither see nor take any of it.
// The test clock moves past each simulated delay instead of sleeping.
func TestNewcomerOnDefaultConfig(t *testing.T) {
	cfg := conf.Default()
	cfg.DataDir = t.TempDir()
	e := econetest.StartConfig(t, cfg)
	alice, bob := e.User(t, "alice"), e.User(t, "bob")
	sim := cfg.Backend.Sim
	cli := func(v any, args ...string) { t.Helper(); cliJSON(t, e, alice, v, append([]string{"ec2"}, args...)...) }

	var run struct {
		Instances []struct {
			InstanceId string
			Placement  struct{ AvailabilityZone string }
		}
	}
	cli(&run, "run-instances", "--image-id", "ami-0a1b2c3d4e5f60001", "--instance-type", "t3.micro")
	inst, zone := run.Instances[0].InstanceId, run.Instances[0].Placement.AvailabilityZone
	e.Clock.Advance(sim.BootDelay.D() + 1)

	var alloc struct{ PublicIp, AllocationId string }
	cli(&alloc, "allocate-address")
	if !strings.HasPrefix(alloc.PublicIp, "198.51.100.") {
		t.Fatalf("allocate-address: got %+v, want an address of the default pool 198.51.100.0/24", alloc)
	}
	var assoc struct{ AssociationId string }
	cli(&assoc, "associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", inst)
	if !strings.HasPrefix(assoc.AssociationId, "eipassoc-") {
		t.Errorf("associate-address on a booted instance nobody described: got %+v, want an association", assoc)
	}

	var vol struct{ VolumeId string }
	cli(&vol, "create-volume", "--availability-zone", zone, "--size", "1")
	e.Clock.Advance(sim.VolumeDelay.D() + 1)
	cli(&struct{}{}, "attach-volume", "--volume-id", vol.VolumeId, "--instance-id", inst, "--device", "/dev/sdf")
	e.Clock.Advance(sim.VolumeDelay.D() + 1)
	if got := instanceVolumes(t, cli, inst); len(got) != 2 || !strings.Contains(strings.Join(got, " "), vol.VolumeId+":attached") {
		t.Errorf("instance block devices after the attach: got %v, want the root volume and %s attached", got, vol.VolumeId)
	}
	cli(&struct{}{}, "detach-volume", "--volume-id", vol.VolumeId)
	e.Clock.Advance(sim.VolumeDelay.D() + 1)
	if got := instanceVolumes(t, cli, inst); len(got) != 1 || strings.Contains(got[0], vol.VolumeId) {
		t.Errorf("instance block devices after the detach: got %v, want only the root volume", got)
	}

	// Bob meets each of alice's resources as one that does not exist.
	var bobRun struct{ Instances []struct{ InstanceId string } }
	cliJSON(t, e, bob, &bobRun, "ec2", "run-instances", "--image-id", "ami-0a1b2c3d4e5f60001", "--instance-type", "t3.micro")
	e.Clock.Advance(sim.BootDelay.D() + 1)
	var bobs struct{ Addresses []any }
	cliJSON(t, e, bob, &bobs, "ec2", "describe-addresses")
	if len(bobs.Addresses) != 0 {
		t.Errorf("bob's describe-addresses: got %v, want none", bobs.Addresses)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"describe-instances", "--instance-ids", inst}, "InvalidInstanceID.NotFound"},
		{[]string{"associate-address", "--allocation-id", alloc.AllocationId, "--instance-id", bobRun.Instances[0].InstanceId}, "InvalidAllocationID.NotFound"},
		{[]string{"attach-volume", "--volume-id", vol.VolumeId, "--instance-id", bobRun.Instances[0].InstanceId, "--device", "/dev/sdg"}, "InvalidVolume.NotFound"},
		{[]string{"detach-volume", "--volume-id", vol.VolumeId}, "InvalidVolume.NotFound"},
		{[]string{"allocate-address", "--address", alloc.PublicIp}, "InvalidAddress.NotFound"},
		{[]string{"allocate-address", "--address", "192.0.2.7"}, "InvalidAddress.NotFound"},
	} {
		out, err := e.CLI(t, bob, append([]string{"ec2"}, c.args...)...)
		if err == nil || !strings.Contains(out+err.Error(), "("+c.want+")") {
			t.Errorf("bob: aws ec2 %s: got %v %s, want %s", strings.Join(c.args, " "), err, out, c.want)
		}
	}
}

// instanceVolumes is the instance's block devices as "volume:status",
// read with describe-instances.
func instanceVolumes(t *testing.T, cli func(v any, args ...string), id string) []string {
	t.Helper()
	var d struct {
		Reservations []struct {
			Instances []struct {
				BlockDeviceMappings []struct {
					Ebs struct{ VolumeId, Status string }
				}
			}
		}
	}
	cli(&d, "describe-instances", "--instance-ids", id)
	var out []string
	for _, bd := range d.Reservations[0].Instances[0].BlockDeviceMappings {
		out = append(out, bd.Ebs.VolumeId+":"+bd.Ebs.Status)
	}
	return out
}
