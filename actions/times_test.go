package actions

import (
	"strings"
	"testing"
	"time"
)

// EC2 shows launch and attach times to the whole second and creation
// times with their milliseconds; a filter on attach-time or launch-time
// matches the value shown.
func TestLaunchAndAttachTimesWholeSeconds(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	clock.Advance(1234 * time.Millisecond)
	inst := launch(t, e, "alice")[0]
	clock.Advance(settle + 567*time.Millisecond)
	got := describe(t, e, "alice", "InstanceId.1", inst)[0]
	if got.LaunchTime != "2026-11-21T12:00:01.000Z" {
		t.Errorf("launchTime %q, want 2026-11-21T12:00:01.000Z", got.LaunchTime)
	}
	if m := describe(t, e, "alice", "Filter.1.Name", "launch-time", "Filter.1.Value.1", got.LaunchTime); len(m) != 1 || m[0].InstanceID != inst {
		t.Errorf("launch-time %s matched %d instances, want %s", got.LaunchTime, len(m), inst)
	}
	for _, bd := range got.BlockDevices {
		wholeSecond(t, "root device's attachTime", bd.Ebs.AttachTime)
	}
	for _, ni := range got.NetworkInterfaces.Items {
		wholeSecond(t, "primary interface's attachTime", ni.Attachment.AttachTime)
	}

	vol := e.mustCall(t, "alice", "CreateVolume", "AvailabilityZone", got.Placement.AvailabilityZone, "Size", "3").(*createVolumeResponse).VolumeID
	clock.Advance(settle)
	e.mustCall(t, "alice", "AttachVolume", "VolumeId", vol, "InstanceId", inst, "Device", "/dev/sdf")
	clock.Advance(settle)
	v := e.mustCall(t, "alice", "DescribeVolumes", "VolumeId.1", vol).(*describeVolumesResponse).Volumes[0]
	if strings.HasSuffix(v.CreateTime, ".000Z") {
		t.Errorf("createTime %q lost its milliseconds", v.CreateTime)
	}
	if len(v.Attachments.Items) != 1 {
		t.Fatalf("attachments %+v, want one", v.Attachments.Items)
	}
	at := v.Attachments.Items[0].AttachTime
	wholeSecond(t, "volume's attachTime", at)
	found := e.mustCall(t, "alice", "DescribeVolumes", "Filter.1.Name", "attachment.attach-time", "Filter.1.Value.1", at).(*describeVolumesResponse).Volumes
	if len(found) != 1 || found[0].VolumeID != vol {
		t.Errorf("attachment.attach-time %s matched %d volumes, want %s", at, len(found), vol)
	}
}

func wholeSecond(t *testing.T, what, ts string) {
	t.Helper()
	if !strings.HasSuffix(ts, ".000Z") {
		t.Errorf("%s %q, want whole seconds (.000Z)", what, ts)
	}
}
