package actions

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/backend/sim"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
	"github.com/rs/zerolog"
)

// volFixture is a Service on a real store and the sim backend with its
// default delays (volumes 1s, snapshots 2s, boot 3s) and a manual clock.
type volFixture struct {
	t     *testing.T
	s     *Service
	sim   *sim.Sim
	clock *manualClock
	users map[string]*store.User
}

// settle is longer than every default sim delay.
const settle = 10 * time.Second

func newVolFixture(t *testing.T) *volFixture {
	t.Helper()
	cfg := conf.Default()
	st := openTestStore(t)
	clk := newManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	b := openTestSim(t, cfg, st, clk)
	return &volFixture{
		t: t, sim: b, clock: clk,
		s:     &Service{Config: cfg, Store: st, Backend: backend.Discover(b), Clock: clk.Now, Log: zerolog.Nop()},
		users: testUsers(),
	}
}

// call runs one action as user with parameters given as name, value pairs.
func (f *volFixture) call(user, action string, kv ...string) (any, error) {
	return callAction(f.s, newRequest(f.users[user], DefaultVersion, action, kv...))
}

func (f *volFixture) must(user, action string, kv ...string) any {
	f.t.Helper()
	resp, err := f.call(user, action, kv...)
	if err != nil {
		f.t.Fatalf("%s %v: %v", action, kv, err)
	}
	return resp
}

// createVolume creates a volume (8 GiB in us-east-1a unless kv says
// otherwise) and returns its id.
func (f *volFixture) createVolume(user string, kv ...string) string {
	f.t.Helper()
	args := withDefaults(kv, "AvailabilityZone", "us-east-1a", "Size", "8")
	return f.must(user, "CreateVolume", args...).(*createVolumeResponse).VolumeID
}

// volume describes one volume of user.
func (f *volFixture) volume(user, id string) volumeItem {
	f.t.Helper()
	resp := f.must(user, "DescribeVolumes", "VolumeId.1", id).(*describeVolumesResponse)
	if len(resp.Volumes) != 1 {
		f.t.Fatalf("DescribeVolumes %s: got %d volumes, want 1", id, len(resp.Volumes))
	}
	return resp.Volumes[0]
}

// instance launches a sim machine for user in zone and records it as the
// instances family would; the clock is not advanced (it is pending).
func (f *volFixture) instance(user, zone string) *store.Instance {
	f.t.Helper()
	id := store.NewID("i")
	m, err := f.sim.Run(context.Background(), &backend.LaunchContext{InstanceID: id, Owner: user, InstanceType: backend.InstanceType{Name: "t3.micro"}, Zone: zone})
	if err != nil {
		f.t.Fatal(err)
	}
	inst := &store.Instance{ID: id, Owner: user, BackendID: m.ID, Zone: zone, State: string(m.State), RootDeviceName: "/dev/sda1"}
	f.update(func(tx store.Tx) error { return store.PutInstance(tx, inst) })
	return inst
}

func (f *volFixture) update(fn func(tx store.Tx) error) {
	f.t.Helper()
	if err := f.s.Store.Update(fn); err != nil {
		f.t.Fatal(err)
	}
}

// blockDevices is the instance's blockDeviceMapping as DescribeInstances shows it.
func (f *volFixture) blockDevices(user, instanceID string) []instanceBlockDeviceXML {
	f.t.Helper()
	resp := f.must(user, "DescribeInstances", "InstanceId.1", instanceID).(*describeInstancesResponse)
	return resp.Reservations[0].Instances[0].BlockDevices
}

// sameAttachments reports how the instance's describe differs from the
// volume's ("" when it shows exactly the volume's attachment to it).
func sameAttachments(v volumeItem, instanceID string, devices []instanceBlockDeviceXML) string {
	var want []string
	for _, a := range v.Attachments.Items {
		if a.InstanceID == instanceID {
			want = append(want, a.Device+" "+a.Status)
		}
	}
	var got []string
	for _, bd := range devices {
		if bd.Ebs.VolumeID == v.VolumeID {
			got = append(got, bd.DeviceName+" "+bd.Ebs.Status)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Sprintf("instance shows %q, volume shows %q", got, want)
	}
	return ""
}

func wantVolCode(t *testing.T, name string, err error, code string) {
	t.Helper()
	switch {
	case code == "" && err != nil:
		t.Errorf("%s: got error %v, want success", name, err)
	case code != "" && !ec2err.Is(err, code):
		t.Errorf("%s: got error %v, want %s", name, err, code)
	}
}

func TestCreateVolumeValidation(t *testing.T) {
	f := newVolFixture(t)
	inZone := func(kv ...string) []string { return append([]string{"AvailabilityZone", "us-east-1a"}, kv...) }
	cases := []struct {
		name string
		args []string
		code string
	}{
		{"gp2 default", inZone("Size", "1"), ""},
		{"no zone", []string{"Size", "1"}, ec2err.MissingParameter},
		{"unknown zone", []string{"Size", "1", "AvailabilityZone", "mars-1a"}, ec2err.InvalidZoneNotFound},
		{"no size or snapshot", inZone(), ec2err.MissingParameter},
		{"size 0", inZone("Size", "0"), ec2err.InvalidParameterValue},
		{"size not a number", inZone("Size", "big"), ec2err.InvalidParameterValue},
		{"gp2 over 16 TiB", inZone("Size", "16385"), ec2err.InvalidParameterValue},
		{"gp2 at 16 TiB", inZone("Size", "16384"), ""},
		{"standard over 1 TiB", inZone("Size", "1025", "VolumeType", "standard"), ec2err.InvalidParameterValue},
		{"st1 under 125", inZone("Size", "124", "VolumeType", "st1"), ec2err.InvalidParameterValue},
		{"sc1 at 125", inZone("Size", "125", "VolumeType", "sc1"), ""},
		{"unknown type", inZone("Size", "1", "VolumeType", "gp9"), ec2err.InvalidParameterValue},
		{"io1 without iops", inZone("Size", "10", "VolumeType", "io1"), ec2err.MissingParameter},
		{"io1 under 4 GiB", inZone("Size", "3", "VolumeType", "io1", "Iops", "100"), ec2err.InvalidParameterValue},
		{"io1 over 50 iops/GiB", inZone("Size", "10", "VolumeType", "io1", "Iops", "501"), ec2err.InvalidParameterValue},
		{"io2 ok", inZone("Size", "10", "VolumeType", "io2", "Iops", "5000"), ""},
		{"iops on gp2", inZone("Size", "10", "Iops", "300"), ec2err.InvalidParameterCombination},
		{"throughput on gp2", inZone("Size", "10", "Throughput", "200"), ec2err.InvalidParameterCombination},
		{"gp3 throughput too high", inZone("Size", "10", "VolumeType", "gp3", "Throughput", "1001"), ec2err.InvalidParameterValue},
		{"malformed snapshot", inZone("SnapshotId", "snap-xyz"), ec2err.InvalidSnapshotIDMalformed},
		{"unknown snapshot", inZone("SnapshotId", "snap-0123456789abcdef0"), ec2err.InvalidSnapshotNotFound},
		{"tag spec for another type", inZone("Size", "1", "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "a"), ec2err.InvalidParameterValue},
		{"reserved tag key", inZone("Size", "1", "TagSpecification.1.ResourceType", "volume", "TagSpecification.1.Tag.1.Key", "aws:x"), ec2err.InvalidParameterValue},
		{"dry run", inZone("Size", "1", "DryRun", "true"), ec2err.DryRunOperation},
	}
	for _, c := range cases {
		_, err := f.call("alice", "CreateVolume", c.args...)
		wantVolCode(t, c.name, err, c.code)
	}
	// Nothing the failures asked for was created: only the successes.
	resp := f.must("alice", "DescribeVolumes").(*describeVolumesResponse)
	if got, want := len(resp.Volumes), 4; got != want {
		t.Errorf("volumes after validation: got %d, want %d", got, want)
	}
}

func TestCreateVolumeDefaults(t *testing.T) {
	f := newVolFixture(t)
	cases := []struct {
		name             string
		args             []string
		iops, throughput int
		typ              string
	}{
		{"gp2 reports 3 iops/GiB, at least 100", []string{"Size", "8"}, 100, 0, "gp2"},
		{"gp2 large", []string{"Size", "1000"}, 3000, 0, "gp2"},
		{"gp3 baseline", []string{"Size", "8", "VolumeType", "gp3"}, 3000, 125, "gp3"},
		{"standard has no iops", []string{"Size", "8", "VolumeType", "standard"}, 0, 0, "standard"},
	}
	for _, c := range cases {
		resp := f.must("alice", "CreateVolume", append([]string{"AvailabilityZone", "us-east-1b"}, c.args...)...).(*createVolumeResponse)
		if resp.Iops != c.iops || resp.Throughput != c.throughput || resp.VolumeType != c.typ {
			t.Errorf("%s: got type %s iops %d throughput %d, want %s %d %d", c.name, resp.VolumeType, resp.Iops, resp.Throughput, c.typ, c.iops, c.throughput)
		}
		if resp.Status != "creating" || resp.Zone != "us-east-1b" {
			t.Errorf("%s: got status %s zone %s, want creating us-east-1b", c.name, resp.Status, resp.Zone)
		}
	}
}

// TestVolumeLifecycle walks creating → available → in-use (attaching,
// attached) → available (detaching) → deleting → gone, with the sim's
// delays; at every step DescribeInstances shows the instance's block
// devices exactly as DescribeVolumes shows the volume's attachment.
func TestVolumeLifecycle(t *testing.T) {
	f := newVolFixture(t)
	inst := f.instance("alice", "us-east-1a")
	vol := f.createVolume("alice")
	steps := []struct {
		name       string
		op         func()
		advance    time.Duration
		status     string
		attachment string // "" = none
		devices    int
	}{
		{"created", nil, 0, "creating", "", 0},
		{"almost available", nil, 999 * time.Millisecond, "creating", "", 0},
		{"available", nil, time.Millisecond, "available", "", 0},
		{"attach requested", func() {
			f.clock.Advance(settle) // the instance boots
			f.must("alice", "AttachVolume", "VolumeId", vol, "InstanceId", inst.ID, "Device", "/dev/sdf")
		}, 0, "in-use", "attaching", 1},
		{"attached", nil, time.Second, "in-use", "attached", 1},
		{"detach requested", func() { f.must("alice", "DetachVolume", "VolumeId", vol) }, 0, "in-use", "detaching", 1},
		{"detached", nil, time.Second, "available", "", 0},
	}
	for _, st := range steps {
		if st.op != nil {
			st.op()
		}
		f.clock.Advance(st.advance)
		v := f.volume("alice", vol)
		att := ""
		if len(v.Attachments.Items) == 1 {
			att = v.Attachments.Items[0].Status
		}
		if v.Status != st.status || att != st.attachment {
			t.Errorf("%s: got status %s attachment %q, want %s %q", st.name, v.Status, att, st.status, st.attachment)
		}
		devices := f.blockDevices("alice", inst.ID)
		if got := len(devices); got != st.devices {
			t.Errorf("%s: instance has %d block devices, want %d", st.name, got, st.devices)
		}
		if diff := sameAttachments(v, inst.ID, devices); diff != "" {
			t.Errorf("%s: %s", st.name, diff)
		}
	}
	// A finished detachment frees the device: attaching again succeeds
	// and rewrites the instance's entry.
	f.must("alice", "AttachVolume", "VolumeId", vol, "InstanceId", inst.ID, "Device", "/dev/sdf")
	f.clock.Advance(settle)
	f.must("alice", "DetachVolume", "VolumeId", vol, "InstanceId", inst.ID, "Device", "sdf")
	f.clock.Advance(settle)
	f.must("alice", "DeleteVolume", "VolumeId", vol)
	if v := f.volume("alice", vol); v.Status != "deleting" {
		t.Errorf("after DeleteVolume: got status %s, want deleting", v.Status)
	}
	f.clock.Advance(settle)
	_, err := f.call("alice", "DescribeVolumes", "VolumeId.1", vol)
	wantVolCode(t, "describe a deleted volume", err, ec2err.InvalidVolumeNotFound)
	if got := f.blockDevices("alice", inst.ID); len(got) != 0 {
		t.Errorf("instance block devices after the volume is gone: got %+v, want none", got)
	}
}

// A describe of a few instances (by id, or all of a student's few) reads
// the volumes attached to them through the index of attachments, not by
// scanning all of the owner's volumes.
func TestDescribeByIDReadsNoVolumeScan(t *testing.T) {
	f := newVolFixture(t)
	inst := f.instance("alice", "us-east-1a")
	other := f.instance("alice", "us-east-1a")
	vol, spare := f.createVolume("alice"), f.createVolume("alice")
	f.clock.Advance(settle)
	f.must("alice", "AttachVolume", "VolumeId", vol, "InstanceId", inst.ID, "Device", "/dev/sdf")
	f.must("alice", "AttachVolume", "VolumeId", spare, "InstanceId", other.ID, "Device", "/dev/sdg")
	f.clock.Advance(settle)
	cases := []struct {
		name      string
		kv        []string
		wantInsts int
	}{
		{"by id", []string{"InstanceId.1", inst.ID}, 1},
		{"all", nil, 2},
	}
	for _, c := range cases {
		scans := &readSpy{Store: f.s.Store}
		f.s.Store = scans
		resp := f.must("alice", "DescribeInstances", c.kv...).(*describeInstancesResponse)
		f.s.Store = scans.Store
		if scans.scanned[store.BucketVolumes] {
			t.Errorf("%s: scanned bucket %s, want only the index of attachments", c.name, store.BucketVolumes)
		}
		var got []string
		for _, r := range resp.Reservations {
			for _, i := range r.Instances {
				for _, bd := range i.BlockDevices {
					got = append(got, i.InstanceID+" "+bd.DeviceName)
				}
			}
		}
		want := []string{inst.ID + " /dev/sdf", other.ID + " /dev/sdg"}[:c.wantInsts]
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got block devices %v, want %v", c.name, got, want)
		}
	}
}

func TestAttachDetachRules(t *testing.T) {
	f := newVolFixture(t)
	running := f.instance("alice", "us-east-1a")
	otherZone := f.instance("alice", "us-east-1b")
	stopped := f.instance("alice", "us-east-1a")
	f.clock.Advance(settle)
	if _, err := f.sim.Stop(context.Background(), stopped.BackendID, false); err != nil {
		t.Fatal(err)
	}
	a, b, c := f.createVolume("alice"), f.createVolume("alice"), f.createVolume("alice")
	f.clock.Advance(settle)
	f.must("alice", "AttachVolume", "VolumeId", a, "InstanceId", running.ID, "Device", "/dev/sdf")
	f.update(func(tx store.Tx) error { // a launched root volume on running
		inst, err := store.GetInstance(tx, "alice", running.ID)
		if err != nil {
			return err
		}
		inst.RootDeviceName = "/dev/sda1"
		if _, err := f.s.launchVolumes(tx, inst, backend.Image{RootSizeGiB: 8}, nil); err != nil {
			return err
		}
		return store.PutInstance(tx, inst)
	})
	var root string
	for _, bd := range f.blockDevices("alice", running.ID) {
		if bd.DeviceName == "/dev/sda1" {
			root = bd.Ebs.VolumeID
		}
	}
	f.clock.Advance(settle)
	pending := f.instance("alice", "us-east-1a")

	attach := func(vol, inst, dev string) []string {
		return []string{"VolumeId", vol, "InstanceId", inst, "Device", dev}
	}
	cases := []struct {
		name, action string
		args         []string
		code         string
	}{
		{"already attached", "AttachVolume", attach(a, running.ID, "/dev/sdg"), ec2err.VolumeInUse},
		{"device in use", "AttachVolume", attach(b, running.ID, "/dev/sdf"), ec2err.InvalidParameterValue},
		{"device in use without /dev/", "AttachVolume", attach(b, running.ID, "sdf"), ec2err.InvalidParameterValue},
		{"bad device name", "AttachVolume", attach(b, running.ID, "/dev/disk0"), ec2err.InvalidParameterValue},
		{"other zone", "AttachVolume", attach(b, otherZone.ID, "/dev/sdg"), ec2err.InvalidVolumeZoneMismatch},
		{"pending instance", "AttachVolume", attach(b, pending.ID, "/dev/sdg"), ec2err.IncorrectState},
		{"stopped instance", "AttachVolume", attach(b, stopped.ID, "/dev/sdg"), ""},
		{"missing device", "AttachVolume", []string{"VolumeId", c, "InstanceId", running.ID}, ec2err.MissingParameter},
		{"malformed instance", "AttachVolume", attach(c, "i-nope", "/dev/sdh"), ec2err.InvalidInstanceIDMalformed},
		{"unknown instance", "AttachVolume", attach(c, "i-0123456789abcdef0", "/dev/sdh"), ec2err.InvalidInstanceIDNotFound},
		{"attach dry run", "AttachVolume", attach(c, running.ID, "/dev/sdh"), ec2err.DryRunOperation},
		{"delete attached", "DeleteVolume", []string{"VolumeId", a}, ec2err.VolumeInUse},
		{"detach not attached", "DetachVolume", []string{"VolumeId", c}, ec2err.IncorrectState},
		{"detach from the wrong instance", "DetachVolume", []string{"VolumeId", a, "InstanceId", stopped.ID}, ec2err.InvalidAttachmentNotFound},
		{"detach at the wrong device", "DetachVolume", []string{"VolumeId", a, "Device", "/dev/sdz"}, ec2err.InvalidAttachmentNotFound},
		{"detach the root of a running instance", "DetachVolume", []string{"VolumeId", root}, ec2err.OperationNotPermitted},
		{"malformed volume", "DetachVolume", []string{"VolumeId", "vol-1"}, ec2err.InvalidVolumeIDMalformed},
	}
	for _, tc := range cases {
		args := tc.args
		if strings.HasSuffix(tc.name, "dry run") {
			args = append(args, "DryRun", "true")
		}
		_, err := f.call("alice", tc.action, args...)
		wantVolCode(t, tc.name, err, tc.code)
	}
	// EC2's own words (quoted by users of the API).
	_, err := f.call("alice", "DeleteVolume", "VolumeId", a)
	if want := "Volume " + a + " is currently attached to " + running.ID; err == nil || ec2err.As(err).Message != want {
		t.Errorf("delete attached: got %v, want message %q", err, want)
	}
	if v := f.volume("alice", c); v.Status != "available" {
		t.Errorf("after a dry-run attach: got status %s, want available", v.Status)
	}
}

// TestVolumeIsolation: another student's volume, snapshot or instance answers
// every action exactly as an id that does not exist.
func TestVolumeIsolation(t *testing.T) {
	f := newVolFixture(t)
	bobInst := f.instance("bob", "us-east-1a")
	aliceInst := f.instance("alice", "us-east-1a")
	bobVol := f.createVolume("bob")
	aliceVol := f.createVolume("alice")
	f.clock.Advance(settle)
	bobSnap := f.must("bob", "CreateSnapshot", "VolumeId", bobVol).(*createSnapshotResponse).SnapshotID
	f.clock.Advance(settle)
	const noVol, noSnap, noInst = "vol-0000000000000000a", "snap-0000000000000000a", "i-0000000000000000a"
	cases := []struct {
		name, action string
		args         func(vol, snap, inst string) []string
	}{
		{"describe volume", "DescribeVolumes", func(v, _, _ string) []string { return []string{"VolumeId.1", v} }},
		{"attach their volume", "AttachVolume", func(v, _, _ string) []string {
			return []string{"VolumeId", v, "InstanceId", aliceInst.ID, "Device", "/dev/sdf"}
		}},
		{"attach to their instance", "AttachVolume", func(_, _, i string) []string {
			return []string{"VolumeId", aliceVol, "InstanceId", i, "Device", "/dev/sdf"}
		}},
		{"detach", "DetachVolume", func(v, _, _ string) []string { return []string{"VolumeId", v} }},
		{"delete volume", "DeleteVolume", func(v, _, _ string) []string { return []string{"VolumeId", v} }},
		{"modify", "ModifyVolume", func(v, _, _ string) []string { return []string{"VolumeId", v, "Size", "20"} }},
		{"modifications", "DescribeVolumesModifications", func(v, _, _ string) []string { return []string{"VolumeId.1", v} }},
		{"snapshot their volume", "CreateSnapshot", func(v, _, _ string) []string { return []string{"VolumeId", v} }},
		{"describe snapshot", "DescribeSnapshots", func(_, s, _ string) []string { return []string{"SnapshotId.1", s} }},
		{"delete snapshot", "DeleteSnapshot", func(_, s, _ string) []string { return []string{"SnapshotId", s} }},
		{"volume from their snapshot", "CreateVolume", func(_, s, _ string) []string {
			return []string{"AvailabilityZone", "us-east-1a", "SnapshotId", s}
		}},
	}
	for _, c := range cases {
		_, theirs := f.call("alice", c.action, c.args(bobVol, bobSnap, bobInst.ID)...)
		_, none := f.call("alice", c.action, c.args(noVol, noSnap, noInst)...)
		if theirs == nil || none == nil || ec2err.As(theirs).Code != ec2err.As(none).Code {
			t.Errorf("%s: another's id gave %v, a missing id %v; want the same NotFound", c.name, theirs, none)
		}
	}
	if resp := f.must("alice", "DescribeVolumes").(*describeVolumesResponse); len(resp.Volumes) != 1 || resp.Volumes[0].VolumeID != aliceVol {
		t.Errorf("alice's volumes: got %+v, want only %s", resp.Volumes, aliceVol)
	}
	if resp := f.must("alice", "DescribeSnapshots").(*describeSnapshotsResponse); len(resp.Snapshots) != 0 {
		t.Errorf("alice's snapshots: got %d, want none", len(resp.Snapshots))
	}
	if v := f.volume("bob", bobVol); v.Status != "available" {
		t.Errorf("bob's volume after alice's attempts: got %s, want available", v.Status)
	}
}

func TestSnapshots(t *testing.T) {
	f := newVolFixture(t)
	vol := f.createVolume("alice", "Size", "20")
	_, err := f.call("alice", "CreateSnapshot", "VolumeId", vol)
	wantVolCode(t, "snapshot a creating volume", err, ec2err.IncorrectState)
	f.clock.Advance(settle)
	sn := f.must("alice", "CreateSnapshot", "VolumeId", vol, "Description", "nightly",
		"TagSpecification.1.ResourceType", "snapshot", "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", "v").(*createSnapshotResponse)
	if sn.Status != "pending" || sn.Progress != "0%" || sn.VolumeSize != 20 || sn.OwnerID != "111111111111" || len(sn.Tags) != 1 {
		t.Errorf("CreateSnapshot: got %+v, want pending 0%% of 20 GiB owned by 111111111111 with one tag", sn.snapshotItem)
	}
	f.clock.Advance(time.Second) // half of the 2s snapshot delay
	describe := func(kv ...string) []snapshotItem {
		return f.must("alice", "DescribeSnapshots", kv...).(*describeSnapshotsResponse).Snapshots
	}
	if got := describe("SnapshotId.1", sn.SnapshotID); len(got) != 1 || got[0].Progress != "50%" {
		t.Errorf("half way: got %+v, want progress 50%%", got)
	}
	_, err = f.call("alice", "CreateVolume", "AvailabilityZone", "us-east-1a", "SnapshotId", sn.SnapshotID)
	wantVolCode(t, "volume from a pending snapshot", err, ec2err.IncorrectState)
	f.clock.Advance(time.Second)
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"all", nil, 1},
		{"owner self", []string{"Owner.1", "self"}, 1},
		{"owner account id", []string{"Owner.1", "111111111111"}, 1},
		{"owner amazon", []string{"Owner.1", "amazon"}, 0},
		{"restorable by all", []string{"RestorableBy.1", "all"}, 1},
		{"restorable by another account", []string{"RestorableBy.1", "222222222222"}, 0},
		{"status completed", []string{"Filter.1.Name", "status", "Filter.1.Value.1", "completed"}, 1},
		{"status pending", []string{"Filter.1.Name", "status", "Filter.1.Value.1", "pending"}, 0},
		{"volume-id", []string{"Filter.1.Name", "volume-id", "Filter.1.Value.1", vol}, 1},
		{"description wildcard", []string{"Filter.1.Name", "description", "Filter.1.Value.1", "night*"}, 1},
		{"tag", []string{"Filter.1.Name", "tag:k", "Filter.1.Value.1", "v"}, 1},
	}
	for _, c := range cases {
		if got := describe(c.args...); len(got) != c.want {
			t.Errorf("%s: got %d snapshots, want %d", c.name, len(got), c.want)
		}
	}
	cases2 := []struct {
		name, size string
		code       string
		wantSize   int
	}{
		{"default is the snapshot size", "", "", 20},
		{"smaller than the snapshot", "10", ec2err.InvalidParameterValue, 0},
		{"larger", "30", "", 30},
	}
	for _, c := range cases2 {
		args := []string{"AvailabilityZone", "us-east-1a", "SnapshotId", sn.SnapshotID}
		if c.size != "" {
			args = append(args, "Size", c.size)
		}
		resp, err := f.call("alice", "CreateVolume", args...)
		wantVolCode(t, c.name, err, c.code)
		if err == nil {
			if v := resp.(*createVolumeResponse); v.Size != c.wantSize || v.SnapshotID != sn.SnapshotID {
				t.Errorf("%s: got size %d snapshot %s, want %d %s", c.name, v.Size, v.SnapshotID, c.wantSize, sn.SnapshotID)
			}
		}
	}
	// An image the admin registered from the snapshot keeps it alive.
	dir := t.TempDir()
	image := "images:\n- {id: ami-0abc0abc0abc0abc0, name: from-snapshot, snapshot_id: " + sn.SnapshotID + "}\n"
	if err := os.WriteFile(filepath.Join(dir, "images.yaml"), []byte(image), 0o644); err != nil {
		t.Fatal(err)
	}
	catalog, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.s.Templates = catalog
	_, err = f.call("alice", "DeleteSnapshot", "SnapshotId", sn.SnapshotID)
	wantVolCode(t, "snapshot of a registered image", err, ec2err.InvalidSnapshotInUse)
	f.s.Templates = nil
	f.must("alice", "DeleteSnapshot", "SnapshotId", sn.SnapshotID)
	_, err = f.call("alice", "DescribeSnapshots", "SnapshotId.1", sn.SnapshotID)
	wantVolCode(t, "describe a deleted snapshot", err, ec2err.InvalidSnapshotNotFound)
	_, err = f.call("alice", "DeleteSnapshot", "SnapshotId", "snapshot-1")
	wantVolCode(t, "malformed snapshot", err, ec2err.InvalidSnapshotIDMalformed)
}

func TestDescribeVolumesFiltersAndPages(t *testing.T) {
	f := newVolFixture(t)
	inst := f.instance("alice", "us-east-1a")
	var ids []string
	for i := 0; i < 6; i++ {
		ids = append(ids, f.createVolume("alice", "TagSpecification.1.ResourceType", "volume", "TagSpecification.1.Tag.1.Key", "n", "TagSpecification.1.Tag.1.Value", string(rune('a'+i))))
	}
	big := f.createVolume("alice", "Size", "100", "VolumeType", "gp3", "AvailabilityZone", "us-east-1a")
	other := f.must("alice", "CreateVolume", "AvailabilityZone", "us-east-1b", "Size", "5").(*createVolumeResponse).VolumeID
	f.clock.Advance(settle)
	f.must("alice", "AttachVolume", "VolumeId", big, "InstanceId", inst.ID, "Device", "/dev/sdk")
	f.clock.Advance(settle)
	filter := func(name string, values ...string) []string {
		out := []string{"Filter.1.Name", name}
		for i, v := range values {
			out = append(out, "Filter.1.Value."+string(rune('1'+i)), v)
		}
		return out
	}
	cases := []struct {
		name string
		args []string
		want int
		code string
	}{
		{"all", nil, 8, ""},
		{"by ids", []string{"VolumeId.1", ids[0], "VolumeId.2", other}, 2, ""},
		{"size", filter("size", "100"), 1, ""},
		{"size any of", filter("size", "100", "5"), 2, ""},
		{"status in-use", filter("status", "in-use"), 1, ""},
		{"status available", filter("status", "available"), 7, ""},
		{"zone", filter("availability-zone", "us-east-1b"), 1, ""},
		{"type", filter("volume-type", "gp3"), 1, ""},
		{"attachment instance", filter("attachment.instance-id", inst.ID), 1, ""},
		{"attachment device", filter("attachment.device", "/dev/sdk"), 1, ""},
		{"attachment status", filter("attachment.status", "attached"), 1, ""},
		{"create-time wildcard", filter("create-time", "2026-03-01T*"), 8, ""},
		{"tag", filter("tag:n", "c"), 1, ""},
		{"tag-key", filter("tag-key", "n"), 6, ""},
		{"volume-id wildcard", filter("volume-id", "vol-*"), 8, ""},
		{"unknown filter", filter("colour", "red"), 0, ec2err.InvalidParameterValue},
		{"unknown id", []string{"VolumeId.1", "vol-0000000000000000a"}, 0, ec2err.InvalidVolumeNotFound},
		{"malformed id", []string{"VolumeId.1", "volume-1"}, 0, ec2err.InvalidVolumeIDMalformed},
		{"ids with MaxResults", []string{"VolumeId.1", ids[0], "MaxResults", "5"}, 0, ec2err.InvalidParameterCombination},
		{"MaxResults too small", []string{"MaxResults", "4"}, 0, ec2err.InvalidParameterValue},
	}
	for _, c := range cases {
		resp, err := f.call("alice", "DescribeVolumes", c.args...)
		wantVolCode(t, c.name, err, c.code)
		if err == nil {
			if got := len(resp.(*describeVolumesResponse).Volumes); got != c.want {
				t.Errorf("%s: got %d volumes, want %d", c.name, got, c.want)
			}
		}
	}
	// Pages of 5 cover all 8 volumes once, in id order.
	var seen []string
	token := ""
	for page := 0; page < 3; page++ {
		args := []string{"MaxResults", "5"}
		if token != "" {
			args = append(args, "NextToken", token)
		}
		resp := f.must("alice", "DescribeVolumes", args...).(*describeVolumesResponse)
		for _, v := range resp.Volumes {
			seen = append(seen, v.VolumeID)
		}
		if token = resp.NextToken; token == "" {
			break
		}
	}
	if len(seen) != 8 || token != "" {
		t.Errorf("paging: got %d volumes (last token %q), want 8 and no token", len(seen), token)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i-1] >= seen[i] {
			t.Errorf("paging order: %s before %s", seen[i-1], seen[i])
		}
	}
}

func TestModifyVolume(t *testing.T) {
	f := newVolFixture(t)
	vol := f.createVolume("alice", "Size", "10")
	f.clock.Advance(settle)
	cases := []struct {
		name string
		args []string
		code string
	}{
		{"shrink", []string{"Size", "5"}, ec2err.InvalidParameterValue},
		{"no change", []string{"Size", "10"}, ec2err.InvalidParameterValue},
		{"over the type's maximum", []string{"Size", "20000"}, ec2err.InvalidParameterValue},
		{"unknown type", []string{"VolumeType", "ssd"}, ec2err.InvalidParameterValue},
		{"grow to gp3", []string{"Size", "20", "VolumeType", "gp3"}, ""},
		{"while modifying", []string{"Size", "30"}, ec2err.IncorrectState},
	}
	for _, c := range cases {
		_, err := f.call("alice", "ModifyVolume", append([]string{"VolumeId", vol}, c.args...)...)
		wantVolCode(t, c.name, err, c.code)
	}
	if v := f.volume("alice", vol); v.Size != 20 || v.VolumeType != "gp3" || v.Iops != 3000 {
		t.Errorf("after ModifyVolume: got %d GiB %s iops %d, want 20 GiB gp3 iops 3000", v.Size, v.VolumeType, v.Iops)
	}
	mods := func() []volumeModificationItem {
		return f.must("alice", "DescribeVolumesModifications", "VolumeId.1", vol).(*describeVolumesModificationsResponse).Modifications
	}
	if m := mods(); len(m) != 1 || m[0].ModificationState != "modifying" || m[0].OriginalSize != 10 || m[0].TargetSize != 20 || m[0].OriginalVolumeType != "gp2" || m[0].EndTime != "" {
		t.Errorf("modification in progress: got %+v, want modifying 10 gp2 -> 20 gp3 without endTime", m)
	}
	f.clock.Advance(settle)
	if m := mods(); len(m) != 1 || m[0].ModificationState != "completed" || m[0].Progress != 100 || m[0].EndTime == "" {
		t.Errorf("modification done: got %+v, want completed 100 with endTime", m)
	}
	f.must("alice", "ModifyVolume", "VolumeId", vol, "Size", "30")
}

func TestCreateVolumeClientToken(t *testing.T) {
	f := newVolFixture(t)
	first := f.createVolume("alice", "ClientToken", "tok-1")
	if again := f.createVolume("alice", "ClientToken", "tok-1"); again != first {
		t.Errorf("same client token: got %s, want %s", again, first)
	}
	_, err := f.call("alice", "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "9", "ClientToken", "tok-1")
	wantVolCode(t, "same token, other size", err, ec2err.IdempotentParameterMismatch)
	if other := f.createVolume("bob", "ClientToken", "tok-1"); other == first {
		t.Errorf("another student's token: got alice's volume %s", first)
	}
}

// TestLaunchAndTerminate: a launch creates the root volume from the image
// and the requested mappings; terminating deletes the DeleteOnTermination
// ones and leaves the others available.
func TestLaunchAndTerminate(t *testing.T) {
	f := newVolFixture(t)
	inst := f.instance("alice", "us-east-1a")
	f.clock.Advance(settle)
	keep := false
	var launched []backend.Volume
	f.update(func(tx store.Tx) error {
		i := *inst
		var err error
		launched, err = f.s.launchVolumes(tx, &i, backend.Image{RootDeviceName: "/dev/xvda", RootSizeGiB: 8}, []blockDeviceRequest{
			{DeviceName: "/dev/sdb", VolumeSize: 50, VolumeType: "gp3", DeleteOnTermination: &keep},
			{DeviceName: "/dev/sdc", NoDevice: true},
			{DeviceName: "/dev/sdd", VolumeSize: 4},
		})
		if err != nil {
			return err
		}
		*inst = i
		return store.PutInstance(tx, &i)
	})
	if len(launched) != 3 || !launched[0].Root || launched[0].SizeGiB != 8 || launched[0].Device != "/dev/xvda" || launched[1].SizeGiB != 50 || launched[2].Device != "/dev/sdd" {
		t.Fatalf("launch volumes: got %+v, want root 8 GiB at /dev/xvda, then sdb, sdd", launched)
	}
	if got := f.blockDevices("alice", inst.ID); len(got) != 3 || got[0].DeviceName != "/dev/xvda" || !got[0].Ebs.DeleteOnTermination || got[1].Ebs.DeleteOnTermination {
		t.Errorf("instance block devices: got %+v, want xvda (DeleteOnTermination), sdb (kept), sdd", got)
	}
	if err := f.s.releaseVolumes(newRequest(f.users["alice"], DefaultVersion, "TerminateInstances"), []string{inst.ID}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(settle)
	resp := f.must("alice", "DescribeVolumes").(*describeVolumesResponse)
	if len(resp.Volumes) != 1 || resp.Volumes[0].VolumeID != launched[1].VolumeID || resp.Volumes[0].Status != "available" {
		t.Errorf("after terminate: got %+v, want only the kept volume %s, available", resp.Volumes, launched[1].VolumeID)
	}
	if got := f.blockDevices("alice", inst.ID); len(got) != 0 {
		t.Errorf("terminated instance's block devices: got %+v, want none", got)
	}
}

func TestLaunchMappings(t *testing.T) {
	f := newVolFixture(t)
	inst := f.instance("alice", "us-east-1a")
	ebs := backend.Image{RootSizeGiB: 8, RootDeviceType: "ebs"}
	cases := []struct {
		name     string
		image    backend.Image
		mappings []blockDeviceRequest
		volumes  int
		code     string
	}{
		{"ebs image: a root volume", ebs, nil, 1, ""},
		{"instance-store image: no root volume", backend.Image{RootSizeGiB: 8, RootDeviceType: "instance-store"}, nil, 0, ""},
		{"instance-store image with a mapping", backend.Image{RootDeviceType: "instance-store"}, []blockDeviceRequest{{DeviceName: "/dev/sdb", VolumeSize: 1}}, 1, ""},
		{"root larger", ebs, []blockDeviceRequest{{DeviceName: "/dev/sda1", VolumeSize: 30}}, 1, ""},
		{"root smaller than the image", ebs, []blockDeviceRequest{{DeviceName: "/dev/sda1", VolumeSize: 4}}, 0, ec2err.InvalidParameterValue},
		{"root suppressed", ebs, []blockDeviceRequest{{DeviceName: "/dev/sda1", NoDevice: true}}, 0, ec2err.InvalidParameterValue},
		{"device twice", ebs, []blockDeviceRequest{{DeviceName: "/dev/sdb", VolumeSize: 1}, {DeviceName: "sdb", VolumeSize: 1}}, 0, ec2err.InvalidParameterValue},
		{"bad device", ebs, []blockDeviceRequest{{DeviceName: "c:", VolumeSize: 1}}, 0, ec2err.InvalidParameterValue},
		{"no size", ebs, []blockDeviceRequest{{DeviceName: "/dev/sdb"}}, 0, ec2err.MissingParameter},
		{"unknown snapshot", ebs, []blockDeviceRequest{{DeviceName: "/dev/sdb", SnapshotID: "snap-0123456789abcdef0"}}, 0, ec2err.InvalidSnapshotNotFound},
		{"io1 without iops", ebs, []blockDeviceRequest{{DeviceName: "/dev/sdb", VolumeSize: 10, VolumeType: "io1"}}, 0, ec2err.MissingParameter},
	}
	for _, c := range cases {
		var vols []backend.Volume
		err := f.s.Store.Update(func(tx store.Tx) error {
			i := *inst
			var err error
			if vols, err = f.s.launchVolumes(tx, &i, c.image, c.mappings); err == nil {
				err = errRollback
			}
			return err
		})
		if err == errRollback {
			err = nil
		}
		wantVolCode(t, c.name, err, c.code)
		if err == nil && len(vols) != c.volumes {
			t.Errorf("%s: got %d volumes, want %d", c.name, len(vols), c.volumes)
		}
	}
}

var errRollback = ec2err.New(ec2err.InternalError, "rollback")

// TestVolumeXML checks the wire shape the picky clients read: size as an
// integer, attachmentSet present even when empty, EC2's time format.
func TestVolumeXML(t *testing.T) {
	f := newVolFixture(t)
	vol := f.createVolume("alice")
	out, err := xml.Marshal(f.must("alice", "DescribeVolumes", "VolumeId.1", vol))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<volumeSet><item><volumeId>" + vol + "</volumeId><size>8</size><snapshotId></snapshotId><availabilityZone>us-east-1a</availabilityZone><status>creating</status>",
		"<createTime>2026-03-01T12:00:00.000Z</createTime><attachmentSet></attachmentSet>",
		"<volumeType>gp2</volumeType><iops>100</iops><encrypted>false</encrypted>",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("DescribeVolumes XML lacks %q:\n%s", want, out)
		}
	}
}

// refusingVolumes is the sim refusing every creation.
type refusingVolumes struct{ *sim.Sim }

func (refusingVolumes) CreateVolume(context.Context, backend.VolumeSpec) (time.Time, error) {
	return time.Time{}, backend.ErrCapacity
}

// TestRecoverVolumes: the intents a crash left with no end known are
// finished at start-up (a creation asked again, a deletion too), or rolled
// back when the backend refuses; a retried CreateVolume with the same
// ClientToken finds its volume. Recovery reads the index of intents, not
// every volume.
func TestRecoverVolumes(t *testing.T) {
	cases := []struct {
		name      string
		state     string
		token     string
		refuse    bool
		wantAfter string // DescribeVolumes status once settled; "" = gone
	}{
		{"creation finished", store.VolumeCreating, "", false, "available"},
		{"creation retried with its token", store.VolumeCreating, "tok-1", false, "available"},
		{"creation refused: rolled back", store.VolumeCreating, "", true, ""},
		{"deletion finished", store.VolumeDeleting, "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newVolFixture(t)
			params := []string{"AvailabilityZone", "us-east-1a", "Size", "8"}
			if c.token != "" {
				params = append(params, "ClientToken", c.token)
			}
			req, err := decodeCreateVolume(newRequest(f.users["alice"], DefaultVersion, "CreateVolume", params...).Params, f.s.validZone)
			if err != nil {
				t.Fatal(err)
			}
			// What a crash between the intent and the backend's answer leaves.
			var id string
			f.update(func(tx store.Tx) error {
				v, err := newVolume(tx, "alice", req, f.clock.Now())
				if err != nil {
					return err
				}
				v.State, id = c.state, v.ID
				if c.token != "" {
					if err := tx.Put(store.BucketIdempotency, idempotencyKey("alice", "CreateVolume", c.token), []byte(v.ID+" "+req.fingerprint())); err != nil {
						return err
					}
				}
				return store.PutVolume(tx, &v)
			})
			if c.refuse {
				f.s.Backend = backend.Discover(refusingVolumes{f.sim})
			}
			scans := &readSpy{Store: f.s.Store}
			f.s.Store = scans
			if err := f.s.RecoverVolumes(t.Context(), AllOrphaned); err != nil {
				t.Fatal(err)
			}
			f.s.Store = scans.Store
			if scans.scanned[store.BucketVolumes] {
				t.Errorf("recovery scanned bucket %s, want only the index of intents", store.BucketVolumes)
			}
			if c.token != "" {
				if again := f.createVolume("alice", params...); again != id {
					t.Errorf("CreateVolume retried with its token: got %s, want %s", again, id)
				}
			}
			f.clock.Advance(settle)
			resp := f.must("alice", "DescribeVolumes").(*describeVolumesResponse)
			got := ""
			if len(resp.Volumes) == 1 {
				got = resp.Volumes[0].Status
			}
			if len(resp.Volumes) > 1 || got != c.wantAfter {
				t.Errorf("after recovery: got %+v, want status %q", resp.Volumes, c.wantAfter)
			}
			if c.wantAfter == "available" {
				f.must("alice", "DeleteVolume", "VolumeId", id)
			}
		})
	}
}

// TestTagSetOnlyWhenTagged: EC2 leaves tagSet out of an untagged
// instance or volume (boto3's Tags key is absent); a snapshot's is
// always written.
func TestTagSetOnlyWhenTagged(t *testing.T) {
	f := newVolFixture(t)
	tagged := func(kind string) []string {
		return []string{"TagSpecification.1.ResourceType", kind, "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", "v"}
	}
	plainVol, taggedVol := f.createVolume("alice"), f.createVolume("alice", tagged("volume")...)
	f.clock.Advance(settle)
	snapshot := func(kv ...string) string {
		return f.must("alice", "CreateSnapshot", append([]string{"VolumeId", plainVol}, kv...)...).(*createSnapshotResponse).SnapshotID
	}
	run := func(kv ...string) string {
		args := append([]string{"ImageId", "ami-0a1b2c3d4e5f60001", "MinCount", "1", "MaxCount", "1"}, kv...)
		return f.must("alice", "RunInstances", args...).(*runInstancesResponse).Instances[0].InstanceID
	}
	cases := []struct {
		name, action, idParam, id string
		want                      bool
	}{
		{"untagged instance", "DescribeInstances", "InstanceId.1", run(), false},
		{"tagged instance", "DescribeInstances", "InstanceId.1", run(tagged("instance")...), true},
		{"untagged volume", "DescribeVolumes", "VolumeId.1", plainVol, false},
		{"tagged volume", "DescribeVolumes", "VolumeId.1", taggedVol, true},
		{"untagged snapshot", "DescribeSnapshots", "SnapshotId.1", snapshot(), true},
		{"tagged snapshot", "DescribeSnapshots", "SnapshotId.1", snapshot(tagged("snapshot")...), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := xml.Marshal(f.must("alice", c.action, c.idParam, c.id))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(out), "<tagSet>"); got != c.want {
				t.Errorf("got tagSet %v, want %v in %s", got, c.want, out)
			}
		})
	}
}

// TestVolumeEncryption: KmsKeyId needs Encrypted and is shown back; a
// volume of an encrypted snapshot is encrypted with its key.
func TestVolumeEncryption(t *testing.T) {
	f := newVolFixture(t)
	_, err := f.call("alice", "CreateVolume", "AvailabilityZone", "us-east-1a", "Size", "8", "KmsKeyId", "alias/lab")
	wantVolCode(t, "KmsKeyId without Encrypted", err, ec2err.InvalidParameterDependency)
	plain := f.createVolume("alice")
	keyed := f.createVolume("alice", "Encrypted", "true", "KmsKeyId", "alias/lab")
	f.clock.Advance(settle)
	snapshot := func(vol string) string {
		return f.must("alice", "CreateSnapshot", "VolumeId", vol).(*createSnapshotResponse).SnapshotID
	}
	plainSnap, keyedSnap := snapshot(plain), snapshot(keyed)
	f.clock.Advance(settle)
	cases := []struct {
		name          string
		kv            []string
		wantEncrypted bool
		wantKey       string
	}{
		{"encrypted with a key", []string{"Encrypted", "true", "KmsKeyId", "alias/lab"}, true, "alias/lab"},
		{"unencrypted", nil, false, ""},
		{"from an unencrypted snapshot", []string{"SnapshotId", plainSnap}, false, ""},
		{"from an encrypted snapshot", []string{"SnapshotId", keyedSnap}, true, "alias/lab"},
		{"from an encrypted snapshot, another key", []string{"SnapshotId", keyedSnap, "Encrypted", "true", "KmsKeyId", "alias/other"}, true, "alias/other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := f.volume("alice", f.createVolume("alice", c.kv...))
			if v.Encrypted != c.wantEncrypted || v.KmsKeyID != c.wantKey {
				t.Errorf("got encrypted %t key %q, want %t %q", v.Encrypted, v.KmsKeyID, c.wantEncrypted, c.wantKey)
			}
		})
	}
	if sn := f.must("alice", "DescribeSnapshots", "SnapshotId.1", keyedSnap).(*describeSnapshotsResponse).Snapshots[0]; !sn.Encrypted || sn.KmsKeyID != "alias/lab" {
		t.Errorf("got snapshot encrypted %t key %q, want true alias/lab", sn.Encrypted, sn.KmsKeyID)
	}
}

// TestMultiAttach: MultiAttachEnabled is recorded for io1 and io2 and
// refused for other types; a second attachment is refused with a clear
// UnsupportedOperation (one attachment at a time here).
func TestMultiAttach(t *testing.T) {
	f := newVolFixture(t)
	first, second := f.instance("alice", "us-east-1a"), f.instance("alice", "us-east-1a")
	cases := []struct {
		name     string
		kv       []string
		wantCode string
	}{
		{"io1", []string{"VolumeType", "io1", "Iops", "300", "MultiAttachEnabled", "true"}, ""},
		{"io2", []string{"VolumeType", "io2", "Iops", "300", "MultiAttachEnabled", "true"}, ""},
		{"gp2 by default", []string{"MultiAttachEnabled", "true"}, ec2err.InvalidParameterCombination},
		{"gp3", []string{"VolumeType", "gp3", "MultiAttachEnabled", "true"}, ec2err.InvalidParameterCombination},
	}
	var shared string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := f.call("alice", "CreateVolume", withDefaults(c.kv, "AvailabilityZone", "us-east-1a", "Size", "10")...)
			if c.wantCode != "" {
				wantVolCode(t, c.name, err, c.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			shared = resp.(*createVolumeResponse).VolumeID
			if v := f.volume("alice", shared); !v.MultiAttachEnabled {
				t.Errorf("got multiAttachEnabled false, want true")
			}
		})
	}
	f.clock.Advance(settle)
	f.must("alice", "AttachVolume", "VolumeId", shared, "InstanceId", first.ID, "Device", "/dev/sdf")
	_, err := f.call("alice", "AttachVolume", "VolumeId", shared, "InstanceId", second.ID, "Device", "/dev/sdf")
	wantVolCode(t, "second attachment", err, ec2err.UnsupportedOperation)
}

// TestDocumentedFilters: filters EC2 documents are accepted (not
// InvalidParameterValue) and match as EC2 would, including those on
// features the endpoint lacks, which match resources without them.
func TestDocumentedFilters(t *testing.T) {
	f := newVolFixture(t)
	f.must("alice", "RunInstances", "ImageId", "ami-0a1b2c3d4e5f60001", "MinCount", "1", "MaxCount", "1")
	f.clock.Advance(settle)
	vol := f.createVolume("alice", "VolumeType", "io1", "Iops", "300", "MultiAttachEnabled", "true")
	f.clock.Advance(settle)
	f.must("alice", "CreateSnapshot", "VolumeId", vol)
	count := func(resp any) int {
		switch r := resp.(type) {
		case *describeInstancesResponse:
			return len(r.Reservations)
		case *describeInstanceStatusResponse:
			return len(r.Statuses)
		case *describeVolumesResponse:
			return len(r.Volumes)
		case *describeSnapshotsResponse:
			return len(r.Snapshots)
		case *describeZonesResponse:
			return len(r.Zones)
		}
		t.Fatalf("unexpected response %T", resp)
		return 0
	}
	cases := []struct {
		action, filter, value string
		want                  int
	}{
		{"DescribeInstances", "launch-index", "0", 1},
		{"DescribeInstances", "availability-zone-id", "use1-az*", 1},
		{"DescribeInstanceStatus", "availability-zone-id", "use1-az*", 1},
		{"DescribeVolumes", "availability-zone-id", "use1-az1", 2},
		{"DescribeInstances", "platform-details", "Linux/UNIX", 1},
		{"DescribeInstances", "block-device-mapping.delete-on-termination", "true", 1},
		{"DescribeInstances", "block-device-mapping.status", "attached", 1},
		{"DescribeInstances", "instance-lifecycle", "spot", 0},
		{"DescribeInstances", "operator.managed", "false", 1},
		{"DescribeInstanceStatus", "event.code", "system-reboot", 0},
		{"DescribeVolumes", "multi-attach-enabled", "true", 1},
		{"DescribeVolumes", "fast-restored", "false", 2},
		{"DescribeSnapshots", "owner-alias", "amazon", 0},
		{"DescribeSnapshots", "transfer-type", "standard", 0},
		{"DescribeAvailabilityZones", "group-long-name", "*", 0},
	}
	for _, c := range cases {
		t.Run(c.action+" "+c.filter, func(t *testing.T) {
			resp, err := f.call("alice", c.action, "Filter.1.Name", c.filter, "Filter.1.Value.1", c.value)
			if err != nil {
				t.Fatalf("got %v, want the filter accepted", err)
			}
			if got := count(resp); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}
