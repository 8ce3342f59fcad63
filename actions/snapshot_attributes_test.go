package actions

import (
	"sort"
	"strings"
	"testing"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// snapshotEnv is the instance fixture with its students recorded in the
// store (a shared snapshot names its owner's account) and one completed
// snapshot of alice's.
func snapshotEnv(t *testing.T) (*testEnv, string) {
	t.Helper()
	e, clock, _ := newInstanceEnv(t, nil)
	storeUsers(t, e)
	vol := e.mustCall(t, "alice", "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "2").(*createVolumeResponse).VolumeID
	clock.Advance(settle)
	snap := e.mustCall(t, "alice", "CreateSnapshot", "VolumeId", vol, "TagSpecification.1.ResourceType", "snapshot",
		"TagSpecification.1.Tag.1.Key", "course", "TagSpecification.1.Tag.1.Value", "cs101").(*createSnapshotResponse).SnapshotID
	clock.Advance(settle)
	return e, snap
}

// storeUsers records the fixture's students, whose account ids sharing
// looks up.
func storeUsers(t *testing.T, e *testEnv) {
	t.Helper()
	err := e.svc.Store.Update(func(tx store.Tx) error {
		for _, u := range e.users {
			cp := *u
			cp.AccessKeyID = "AKIA" + strings.ToUpper(u.Name)
			if err := store.PutUser(tx, &cp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func snapshotIDs(t *testing.T, e *testEnv, user string, kv ...string) string {
	t.Helper()
	var out []string
	for _, sn := range e.mustCall(t, user, "DescribeSnapshots", kv...).(*describeSnapshotsResponse).Snapshots {
		out = append(out, sn.SnapshotID+"@"+sn.OwnerID)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func permissions(t *testing.T, e *testEnv, user, snap string) string {
	t.Helper()
	resp := e.mustCall(t, user, "DescribeSnapshotAttribute", "SnapshotId", snap, "Attribute", "createVolumePermission").(*describeSnapshotAttributeResponse)
	var out []string
	for _, p := range resp.VolumePermissions.Items {
		out = append(out, p.UserID)
	}
	return strings.Join(out, " ")
}

// Alice shares a snapshot with bob's account: bob sees it (with alice's
// ownerId, without her tags) and makes a volume from it; carol, not named,
// sees nothing and cannot; removing bob ends it.
func TestSnapshotShareWithClassmate(t *testing.T) {
	e, snap := snapshotEnv(t)
	alice, bob := e.users["alice"].AccountID, e.users["bob"].AccountID
	if got := permissions(t, e, "alice", snap); got != "" {
		t.Errorf("new snapshot: got permissions %q, want none", got)
	}
	e.mustCall(t, "alice", "ModifySnapshotAttribute", "SnapshotId", snap, "Attribute", "createVolumePermission",
		"OperationType", "add", "UserId.1", bob)
	e.mustCall(t, "alice", "ModifySnapshotAttribute", "SnapshotId", snap, "CreateVolumePermission.Add.1.UserId", bob) // idempotent
	mine, shared := snap+"@"+alice, snap+"@"+alice
	tests := []struct {
		name, user string
		kv         []string
		want       string
	}{
		{"owner", "alice", nil, mine},
		{"owner, restorable by bob", "alice", []string{"RestorableBy.1", bob}, mine},
		{"owner, restorable by carol", "alice", []string{"RestorableBy.1", e.users["carol"].AccountID}, ""},
		{"bob", "bob", nil, shared},
		{"bob, restorable by self", "bob", []string{"RestorableBy.1", "self"}, shared},
		{"bob, owner alice", "bob", []string{"Owner.1", alice}, shared},
		{"bob, owner self", "bob", []string{"Owner.1", "self"}, ""},
		{"bob, by id", "bob", []string{"SnapshotId.1", snap}, shared},
		{"carol", "carol", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := snapshotIDs(t, e, tt.user, tt.kv...); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if tags := e.mustCall(t, "bob", "DescribeSnapshots").(*describeSnapshotsResponse).Snapshots[0].Tags; len(tags) != 0 {
		t.Errorf("bob sees alice's tags %v, want none", tags)
	}
	if got := permissions(t, e, "alice", snap); got != bob {
		t.Errorf("alice's permissions: got %q, want %s", got, bob)
	}
	if got := permissions(t, e, "bob", snap); got != bob {
		t.Errorf("bob's view of the permissions: got %q, want only his own", got)
	}
	vol := e.mustCall(t, "bob", "CreateVolume", "AvailabilityZone", "us-east-1a", "SnapshotId", snap).(*createVolumeResponse)
	if vol.SnapshotID != snap || vol.Size != 2 {
		t.Errorf("bob's volume: got snapshot %s, %d GiB, want %s, 2", vol.SnapshotID, vol.Size, snap)
	}
	for _, action := range [][]string{
		{"CreateVolume", "AvailabilityZone", "us-east-1a", "SnapshotId", snap},
		{"DescribeSnapshots", "SnapshotId.1", snap},
		{"DescribeSnapshotAttribute", "SnapshotId", snap, "Attribute", "createVolumePermission"},
	} {
		_, err := e.call(t, "carol", action[0], action[1:]...)
		wantCode(t, err, ec2err.InvalidSnapshotNotFound)
	}
	// Only the owner changes or deletes it.
	_, err := e.call(t, "bob", "ModifySnapshotAttribute", "SnapshotId", snap, "OperationType", "add", "UserId.1", e.users["carol"].AccountID)
	wantCode(t, err, ec2err.InvalidSnapshotNotFound)
	_, err = e.call(t, "bob", "DeleteSnapshot", "SnapshotId", snap)
	wantCode(t, err, ec2err.InvalidSnapshotNotFound)

	e.mustCall(t, "alice", "ModifySnapshotAttribute", "SnapshotId", snap, "CreateVolumePermission.Remove.1.UserId", bob)
	if got := snapshotIDs(t, e, "bob"); got != "" {
		t.Errorf("bob after remove: got %q, want nothing", got)
	}
	_, err = e.call(t, "bob", "CreateVolume", "AvailabilityZone", "us-east-1a", "SnapshotId", snap)
	wantCode(t, err, ec2err.InvalidSnapshotNotFound)

	// Reset forgets every account; deleting the snapshot ends a share too.
	e.mustCall(t, "alice", "ModifySnapshotAttribute", "SnapshotId", snap, "OperationType", "add", "UserId.1", bob, "UserId.2", e.users["carol"].AccountID)
	e.mustCall(t, "alice", "ResetSnapshotAttribute", "SnapshotId", snap, "Attribute", "createVolumePermission")
	if got := permissions(t, e, "alice", snap); got != "" {
		t.Errorf("after reset: got %q, want none", got)
	}
	e.mustCall(t, "alice", "ModifySnapshotAttribute", "SnapshotId", snap, "OperationType", "add", "UserId.1", bob)
	e.mustCall(t, "alice", "DeleteSnapshot", "SnapshotId", snap)
	if got := snapshotIDs(t, e, "bob"); got != "" {
		t.Errorf("bob after delete: got %q, want nothing", got)
	}
}

func TestSnapshotAttributeErrors(t *testing.T) {
	e, snap := snapshotEnv(t)
	bob := e.users["bob"].AccountID
	tests := []struct {
		name, action string
		kv           []string
		want         string
	}{
		{"public", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "OperationType", "add", "UserGroup.1", "all"}, ec2err.UnauthorizedOperation},
		{"public, structured", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "CreateVolumePermission.Add.1.Group", "all"}, ec2err.UnauthorizedOperation},
		{"another group", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "OperationType", "add", "UserGroup.1", "everyone"}, ec2err.InvalidAMIAttributeItemValue},
		{"malformed account", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "OperationType", "add", "UserId.1", "1234567891"}, ec2err.InvalidUserIDMalformed},
		{"no operation", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "UserId.1", bob}, ec2err.MissingParameter},
		{"bad operation", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "OperationType", "share", "UserId.1", bob}, ec2err.InvalidParameterValue},
		{"nothing to change", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "Attribute", "createVolumePermission"}, ec2err.MissingParameter},
		{"product codes", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "Attribute", "productCodes", "OperationType", "add", "UserId.1", bob}, ec2err.InvalidParameterCombination},
		{"bad attribute", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "Attribute", "description", "OperationType", "add", "UserId.1", bob}, ec2err.InvalidParameterValue},
		{"unknown snapshot", "ModifySnapshotAttribute", []string{"SnapshotId", "snap-0123456789abcdef0", "OperationType", "add", "UserId.1", bob}, ec2err.InvalidSnapshotNotFound},
		{"malformed snapshot", "ModifySnapshotAttribute", []string{"SnapshotId", "snapshot-abcd1234", "OperationType", "add", "UserId.1", bob}, ec2err.InvalidSnapshotIDMalformed},
		{"dry run", "ModifySnapshotAttribute", []string{"SnapshotId", snap, "OperationType", "add", "UserId.1", bob, "DryRun", "true"}, ec2err.DryRunOperation},
		{"describe without attribute", "DescribeSnapshotAttribute", []string{"SnapshotId", snap}, ec2err.MissingParameter},
		{"describe bad attribute", "DescribeSnapshotAttribute", []string{"SnapshotId", snap, "Attribute", "owner"}, ec2err.InvalidParameterValue},
		{"reset product codes", "ResetSnapshotAttribute", []string{"SnapshotId", snap, "Attribute", "productCodes"}, ec2err.InvalidParameterCombination},
		{"reset another's", "ResetSnapshotAttribute", []string{"SnapshotId", "snap-0123456789abcdef0", "Attribute", "createVolumePermission"}, ec2err.InvalidSnapshotNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, "alice", tt.action, tt.kv...)
			wantCode(t, err, tt.want)
		})
	}
	if got := permissions(t, e, "alice", snap); got != "" {
		t.Errorf("after refused changes and a dry run: got %q, want none", got)
	}
	codes := e.mustCall(t, "alice", "DescribeSnapshotAttribute", "SnapshotId", snap, "Attribute", "productCodes").(*describeSnapshotAttributeResponse)
	if codes.ProductCodes == nil || codes.VolumePermissions != nil {
		t.Errorf("productCodes: got %+v, want an empty productCodes only", codes)
	}
	// Removing what is not there, and the group all, is no error (as on EC2).
	e.mustCall(t, "alice", "ModifySnapshotAttribute", "SnapshotId", snap, "OperationType", "remove", "UserId.1", bob, "UserGroup.1", "all")
}

func TestCreateSnapshots(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice", "BlockDeviceMapping.1.DeviceName", "/dev/sdf", "BlockDeviceMapping.1.Ebs.VolumeSize", "1",
		"TagSpecification.1.ResourceType", "volume", "TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "data")[0]
	clock.Advance(settle)
	devices := map[string]string{}
	for _, bd := range describe(t, e, "alice", "InstanceId.1", id)[0].BlockDevices {
		devices[bd.Ebs.VolumeID] = bd.DeviceName
	}
	taken := func(kv ...string) map[string]snapshotInfoXML {
		out := map[string]snapshotInfoXML{}
		resp := e.mustCall(t, "alice", "CreateSnapshots", append([]string{"InstanceSpecification.InstanceId", id}, kv...)...).(*createSnapshotsResponse)
		for _, sn := range resp.Snapshots {
			out[devices[sn.VolumeID]] = sn
		}
		return out
	}
	all := taken("Description", "nightly", "CopyTagsFromSource", "volume",
		"TagSpecification.1.ResourceType", "snapshot", "TagSpecification.1.Tag.1.Key", "when", "TagSpecification.1.Tag.1.Value", "tonight")
	if len(all) != 2 || all["/dev/xvda"].Description != "nightly" || all["/dev/sdf"].State != "pending" || all["/dev/sdf"].OwnerID != e.users["alice"].AccountID {
		t.Errorf("every volume: got %+v, want /dev/xvda and /dev/sdf, pending, described nightly", all)
	}
	if got := all["/dev/sdf"].Tags; len(got) != 2 || got[0] != (tagXML{"role", "data"}) || got[1] != (tagXML{"when", "tonight"}) {
		t.Errorf("tags copied and given: got %v, want role=data when=tonight", got)
	}
	if got := taken("InstanceSpecification.ExcludeBootVolume", "true"); len(got) != 1 || got["/dev/sdf"].SnapshotID == "" {
		t.Errorf("without the boot volume: got %+v, want /dev/sdf only", got)
	}
	var data string
	for vol, dev := range devices {
		if dev == "/dev/sdf" {
			data = vol
		}
	}
	if got := taken("InstanceSpecification.ExcludeDataVolumeId.1", data); len(got) != 1 || got["/dev/xvda"].SnapshotID == "" {
		t.Errorf("without the data volume: got %+v, want /dev/xvda only", got)
	}
	if got := snapshotIDs(t, e, "alice"); len(strings.Fields(got)) != 4 {
		t.Errorf("DescribeSnapshots: got %s, want the 4 snapshots taken", got)
	}
	tests := []struct {
		name, user string
		kv         []string
		want       string
	}{
		{"another student's instance", "bob", []string{"InstanceSpecification.InstanceId", id}, ec2err.InvalidInstanceIDNotFound},
		{"no instance", "alice", nil, ec2err.MissingParameter},
		{"excluded not attached", "alice", []string{"InstanceSpecification.InstanceId", id, "InstanceSpecification.ExcludeDataVolumeId.1", "vol-0123456789abcdef0"}, ec2err.InvalidParameterValue},
		{"copy tags from", "alice", []string{"InstanceSpecification.InstanceId", id, "CopyTagsFromSource", "instance"}, ec2err.InvalidParameterValue},
		{"tag type", "alice", []string{"InstanceSpecification.InstanceId", id, "TagSpecification.1.ResourceType", "volume", "TagSpecification.1.Tag.1.Key", "k"}, ec2err.InvalidParameterValue},
		{"dry run", "alice", []string{"InstanceSpecification.InstanceId", id, "DryRun", "true"}, ec2err.DryRunOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, tt.user, "CreateSnapshots", tt.kv...)
			wantCode(t, err, tt.want)
		})
	}
	if got := snapshotIDs(t, e, "alice"); len(strings.Fields(got)) != 4 {
		t.Errorf("after refused requests: got %s, want still 4 snapshots", got)
	}
}
