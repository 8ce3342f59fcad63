package actions

import "testing"

// A reservation lists its instances by launch index, whatever their
// (random) ids, as EC2 does.
func TestReservationListsInstancesByLaunchIndex(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	launch(t, e, "alice", "MinCount", "8", "MaxCount", "8")
	res := e.mustCall(t, "alice", "DescribeInstances").(*describeInstancesResponse).Reservations
	if len(res) != 1 || len(res[0].Instances) != 8 {
		t.Fatalf("got %d reservations, want one of 8 instances", len(res))
	}
	for i, inst := range res[0].Instances {
		if inst.AmiLaunchIndex != i {
			t.Errorf("instance %d of the reservation (%s) has launch index %d", i, inst.InstanceID, inst.AmiLaunchIndex)
		}
	}
}
