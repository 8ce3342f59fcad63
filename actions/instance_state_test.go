package actions

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// stateEnv is an instance just launched (pending in the store) with what
// the actions naming it need: its root volume, a volume to attach and an
// elastic IP, all made before the clock moves.
type stateEnv struct {
	*testEnv
	inst, root, vol, alloc, eni string
}

// stateCase is one action that names an instance, called once the
// instance's machine has booted (or, with stopped, has stopped) while
// nobody described it: it must see the state a describe would show.
type stateCase struct {
	action  string
	stopped bool
	args    func(e *stateEnv) []string
	check   func(resp any) string // what is wrong with the answer; "" if nothing
}

func previousState(want string) func(any) string {
	return func(resp any) string {
		items := resp.(*stateChangesResponse).Items
		if len(items) != 1 || items[0].Previous.Name != want {
			return "previous state " + stateNames(items) + ", want " + want
		}
		return ""
	}
}

func stateNames(items []stateChangeXML) string {
	var out []string
	for _, it := range items {
		out = append(out, it.Previous.Name+" -> "+it.Current.Name)
	}
	return strings.Join(out, ", ")
}

// stateCases covers every action that takes an instance id (checked by
// TestInstanceIDActionsAreCovered).
var stateCases = []stateCase{
	{action: "DescribeInstances", args: func(e *stateEnv) []string { return []string{"InstanceId.1", e.inst} },
		check: func(resp any) string {
			got := resp.(*describeInstancesResponse).Reservations[0].Instances[0].State.Name
			if got != "running" {
				return "state " + got + ", want running"
			}
			return ""
		}},
	{action: "DescribeInstanceStatus", args: func(e *stateEnv) []string { return []string{"InstanceId.1", e.inst} },
		check: func(resp any) string {
			if got := resp.(*describeInstanceStatusResponse).Statuses; len(got) != 1 {
				return "no status, want the running instance's"
			}
			return ""
		}},
	{action: "TerminateInstances", args: func(e *stateEnv) []string { return []string{"InstanceId.1", e.inst} }, check: previousState("running")},
	{action: "StopInstances", args: func(e *stateEnv) []string { return []string{"InstanceId.1", e.inst} }, check: previousState("running")},
	{action: "StartInstances", stopped: true, args: func(e *stateEnv) []string { return []string{"InstanceId.1", e.inst} }, check: previousState("stopped")},
	{action: "RebootInstances", args: func(e *stateEnv) []string { return []string{"InstanceId.1", e.inst} }},
	{action: "GetConsoleOutput", args: func(e *stateEnv) []string { return []string{"InstanceId", e.inst} }},
	{action: "GetInstanceUefiData", args: func(e *stateEnv) []string { return []string{"InstanceId", e.inst} }},
	{action: "DescribeInstanceAttribute", args: func(e *stateEnv) []string {
		return []string{"InstanceId", e.inst, "Attribute", "instanceType"}
	}},
	{action: "ModifyInstanceAttribute", stopped: true, args: func(e *stateEnv) []string {
		return []string{"InstanceId", e.inst, "InstanceType.Value", "m1.large"}
	}},
	{action: "AssociateAddress", args: func(e *stateEnv) []string { return []string{"AllocationId", e.alloc, "InstanceId", e.inst} }},
	{action: "AssociateAddress", stopped: true, args: func(e *stateEnv) []string { return []string{"AllocationId", e.alloc, "InstanceId", e.inst} }},
	{action: "AttachNetworkInterface", args: func(e *stateEnv) []string {
		return []string{"NetworkInterfaceId", e.eni, "InstanceId", e.inst, "DeviceIndex", "1"}
	}},
	{action: "AttachNetworkInterface", stopped: true, args: func(e *stateEnv) []string {
		return []string{"NetworkInterfaceId", e.eni, "InstanceId", e.inst, "DeviceIndex", "1"}
	}},
	{action: "AttachVolume", args: func(e *stateEnv) []string {
		return []string{"VolumeId", e.vol, "InstanceId", e.inst, "Device", "/dev/sdf"}
	}},
	{action: "AttachVolume", stopped: true, args: func(e *stateEnv) []string {
		return []string{"VolumeId", e.vol, "InstanceId", e.inst, "Device", "/dev/sdf"}
	}},
	{action: "GetLaunchTemplateData", args: func(e *stateEnv) []string { return []string{"InstanceId", e.inst} },
		check: func(resp any) string {
			if got := resp.(*getLaunchTemplateDataResponse).Data.ImageID; got != debianAMI {
				return "image " + got + ", want " + debianAMI
			}
			return ""
		}},
	// A root volume detaches only from a stopped instance.
	{action: "DetachVolume", stopped: true, args: func(e *stateEnv) []string { return []string{"VolumeId", e.root, "InstanceId", e.inst} }},
	{action: "DescribeInstanceCreditSpecifications", args: func(e *stateEnv) []string { return []string{"InstanceId.1", e.inst} }},
	{action: "ModifyInstanceMetadataOptions", args: func(e *stateEnv) []string {
		return []string{"InstanceId", e.inst, "HttpTokens", "required"}
	}},
	{action: "MonitorInstances", args: func(e *stateEnv) []string { return []string{"InstanceId.1", e.inst} }},
	{action: "UnmonitorInstances", stopped: true, args: func(e *stateEnv) []string { return []string{"InstanceId.1", e.inst} }},
	{action: "ModifyInstanceAttribute", stopped: true, args: func(e *stateEnv) []string {
		return []string{"InstanceId", e.inst, "EbsOptimized.Value", "true"}
	}},
	{action: "CreateImage", args: func(e *stateEnv) []string { return []string{"InstanceId", e.inst, "Name", "running-image"} }},
	{action: "CreateImage", stopped: true, args: func(e *stateEnv) []string { return []string{"InstanceId", e.inst, "Name", "stopped-image"} }},
	{action: "CreateRoute", args: func(e *stateEnv) []string {
		return []string{"RouteTableId", store.MainRouteTableID("alice", store.DefaultVPCID("alice")), "DestinationCidrBlock", "10.9.0.0/16", "InstanceId", e.inst}
	}},
	{action: "ReplaceRoute", args: func(e *stateEnv) []string {
		return []string{"RouteTableId", store.MainRouteTableID("alice", store.DefaultVPCID("alice")), "DestinationCidrBlock", "0.0.0.0/0", "InstanceId", e.inst}
	}},
}

// noInstanceID lists the actions that name no instance; together with
// stateCases it must classify every action of Table().
var noInstanceID = []string{
	"AllocateAddress", "DisassociateAddress", "ReleaseAddress", "DescribeAddresses", "DescribeAddressesAttribute",
	"CreateSecurityGroup", "DescribeSecurityGroups", "DeleteSecurityGroup", "DescribeSecurityGroupRules",
	"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
	"DescribeImages", "DescribeInstanceTypes", "RunInstances",
	"CreateKeyPair", "ImportKeyPair", "DescribeKeyPairs", "DeleteKeyPair",
	"DescribeRegions", "DescribeAvailabilityZones", "DescribeAccountAttributes",
	"CreateSnapshot", "DescribeSnapshots", "DeleteSnapshot",
	"CreateTags", "DeleteTags", "DescribeTags",
	"CreateVolume", "DescribeVolumes", "DeleteVolume", "ModifyVolume", "DescribeVolumesModifications",
	"GetCallerIdentity", "GetUser",
	"CreateLaunchTemplate", "DescribeLaunchTemplates", "ModifyLaunchTemplate", "DeleteLaunchTemplate",
	"CreateLaunchTemplateVersion", "DescribeLaunchTemplateVersions", "DeleteLaunchTemplateVersions",
	"DescribeSnapshotAttribute", "ModifySnapshotAttribute", "ResetSnapshotAttribute", "DescribeInstanceTypeOfferings",
	// These name instances inside structures (InstanceSpecification,
	// InstanceCreditSpecification.N), which botocore's check below does not see.
	"CreateSnapshots", "ModifyInstanceCreditSpecification",
	"DeregisterImage", "DescribeImageAttribute", "ModifyImageAttribute", "ResetImageAttribute", "CopyImage", "RegisterImage",
	"CreateVpc", "DescribeVpcs", "DeleteVpc", "DescribeVpcAttribute", "ModifyVpcAttribute",
	"CreateSubnet", "DescribeSubnets", "DeleteSubnet", "ModifySubnetAttribute",
	"CreateInternetGateway", "DescribeInternetGateways", "DeleteInternetGateway", "AttachInternetGateway", "DetachInternetGateway",
	"CreateRouteTable", "DescribeRouteTables", "DeleteRouteTable", "DeleteRoute", "AssociateRouteTable", "DisassociateRouteTable",
	"ReplaceRouteTableAssociation",
	"DescribeNetworkInterfaces", "CreateNetworkInterface", "DeleteNetworkInterface", "DetachNetworkInterface",
	"ModifyNetworkInterfaceAttribute", "DescribeNetworkInterfaceAttribute",
	"DescribeVpcClassicLink", "DescribeVpcClassicLinkDnsSupport",
	"ModifySecurityGroupRules", "UpdateSecurityGroupRuleDescriptionsIngress", "UpdateSecurityGroupRuleDescriptionsEgress",
	"CreateManagedPrefixList", "DescribeManagedPrefixLists", "GetManagedPrefixListEntries", "ModifyManagedPrefixList", "DeleteManagedPrefixList",
}

// newStateEnv launches one instance for alice and makes a volume and an
// elastic IP; then the machine boots (and, with stopped, is stopped and
// stops) while nothing but that stop reads it.
func newStateEnv(t *testing.T, stopped bool) *stateEnv {
	t.Helper()
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = []string{"198.51.100.10"}
	e, clock, _ := newInstanceEnv(t, cfg)
	e.svc.Addresses = &fakeAddressProvider{}
	reconcile(t, e.svc)
	run := e.mustCall(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1").(*runInstancesResponse).Instances[0]
	env := &stateEnv{testEnv: e, inst: run.InstanceID, root: run.BlockDevices[0].Ebs.VolumeID}
	env.vol = e.mustCall(t, "alice", "CreateVolume", "AvailabilityZone", run.Placement.AvailabilityZone, "Size", "1").(*createVolumeResponse).VolumeID
	env.alloc = e.mustCall(t, "alice", "AllocateAddress").(*allocateAddressResponse).AllocationID
	env.eni = e.mustCall(t, "alice", "CreateNetworkInterface", "SubnetId", run.SubnetID).(*createNetworkInterfaceResponse).NetworkInterface.NetworkInterfaceID
	clock.Advance(settle)
	if stopped {
		e.mustCall(t, "alice", "StopInstances", "InstanceId.1", env.inst)
		clock.Advance(settle)
	}
	return env
}

// TestInstanceActionsSeeCurrentState: every action naming an instance
// sees the state its machine has reached, though nobody described it
// since (the store still says pending, or stopping).
func TestInstanceActionsSeeCurrentState(t *testing.T) {
	for _, c := range stateCases {
		state := "running"
		if c.stopped {
			state = "stopped"
		}
		t.Run(c.action+"/"+state, func(t *testing.T) {
			e := newStateEnv(t, c.stopped)
			resp, err := e.call(t, "alice", c.action, c.args(e)...)
			if err != nil {
				t.Fatalf("got %v, want it to act on a %s instance", err, state)
			}
			if c.check != nil {
				if msg := c.check(resp); msg != "" {
					t.Errorf("got %s", msg)
				}
			}
		})
	}
}

// TestInstanceIDActionsAreCovered: every action of Table() is either
// tried by TestInstanceActionsSeeCurrentState or listed as naming no
// instance, so a new action cannot be forgotten; and, where botocore's
// EC2 model is at hand, the actions whose input has an InstanceId or
// InstanceIds member are exactly the tried ones.
func TestInstanceIDActionsAreCovered(t *testing.T) {
	tried := map[string]bool{}
	for _, c := range stateCases {
		tried[c.action] = true
	}
	for name := range Table() {
		if tried[name] == slices.Contains(noInstanceID, name) {
			t.Errorf("%s: got it in both or neither of stateCases and noInstanceID, want it in exactly one", name)
		}
	}
	for _, name := range noInstanceID {
		if _, ok := Table()[name]; !ok {
			t.Errorf("noInstanceID lists %s, which Table() does not have", name)
		}
	}
	model := botocoreEC2Model(t)
	services := Services()
	for name := range Table() {
		if services[name] != "ec2" {
			continue
		}
		op, ok := model.Operations[name]
		if !ok {
			t.Errorf("%s: not in botocore's EC2 model", name)
			continue
		}
		members := model.Shapes[op.Input.Shape].Members
		_, one := members["InstanceId"]
		_, many := members["InstanceIds"]
		if takes := one || many; takes != tried[name] {
			t.Errorf("%s: botocore says it takes an instance id: %t; tried in stateCases: %t", name, takes, tried[name])
		}
	}
}

type ec2Model struct {
	Operations map[string]struct {
		Input struct{ Shape string } `json:"input"`
	} `json:"operations"`
	Shapes map[string]struct {
		Members map[string]json.RawMessage `json:"members"`
	} `json:"shapes"`
}

// botocoreEC2Model reads botocore's EC2 model through the Python the
// client tests use (ECONE_TEST_PYTHON); the test is skipped without it.
func botocoreEC2Model(t *testing.T) ec2Model {
	t.Helper()
	python := os.Getenv("ECONE_TEST_PYTHON")
	if python == "" {
		t.Skip("ECONE_TEST_PYTHON is not set: botocore's model is not at hand")
	}
	out, err := exec.Command(python, "-c", "import botocore, os; print(os.path.dirname(botocore.__file__))").Output()
	if err != nil {
		t.Fatalf("finding botocore with %s: %v", python, err)
	}
	f, err := os.Open(filepath.Join(strings.TrimSpace(string(out)), "data", "ec2", "2016-11-15", "service-2.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var m ec2Model
	if err := json.NewDecoder(zr).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A termination that finished while nobody described the instance frees
// its group and its subnet: the delete checks see the backend's state, not
// the record's last sight of it.
func TestDeletesSeeTerminationsNobodyDescribed(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	zone := conf.Default().AvailabilityZones[1]
	_, subnet := ownVPC(t, e, "alice", "10.1.0.0/16", "10.1.2.0/24", zone)
	web := e.createGroup(t, "alice", "web")
	byGroup := launch(t, e, "alice", "SecurityGroupId.1", web)[0]
	inSubnet := launch(t, e, "alice", "SubnetId", subnet)[0]
	clock.Advance(time.Minute) // both running, unseen
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", byGroup, "InstanceId.2", inSubnet)
	deletes := []struct{ action, param, id string }{
		{"DeleteSecurityGroup", "GroupId", web},
		{"DeleteSubnet", "SubnetId", subnet},
	}
	for _, c := range deletes {
		_, err := e.call(t, "alice", c.action, c.param, c.id)
		wantCode(t, err, ec2err.DependencyViolation) // still shutting down
	}
	clock.Advance(time.Minute) // terminated in the backend, unseen
	for _, c := range deletes {
		if _, err := e.call(t, "alice", c.action, c.param, c.id); err != nil {
			t.Errorf("%s after the termination finished: %v", c.action, err)
		}
	}
}

// describeSpy counts the machines the backend is asked to describe.
type describeSpy struct {
	backend.Backend
	asked *int
}

func (d describeSpy) Describe(ctx context.Context, ids []string) ([]backend.Machine, error) {
	*d.asked += len(ids)
	return d.Backend.Describe(ctx, ids)
}

// The describes show an instance recorded in a state the backend keeps
// until a call moves it (the sim's running and stopped) as recorded,
// without asking the backend; a transitional one, or any on a backend
// without the ability, is asked about. An action asks always, so a call
// whose outcome was not recorded is found by the next action.
func TestDescribesTakeSettledStatesAsRecorded(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	ids := launch(t, e, "alice", "MinCount", "3", "MaxCount", "3")
	clock.Advance(time.Minute)
	e.mustCall(t, "alice", "DescribeInstances") // records the boots
	pending := launch(t, e, "alice")[0]
	sim := e.svc.Backend
	asked := 0
	spied := func(settled bool) backend.Abilities {
		a := sim
		a.Backend = describeSpy{a.Backend, &asked}
		if !settled {
			a.Settled = nil
		}
		return a
	}
	cases := []struct {
		name    string
		settled bool
		action  string
		kv      []string
		want    int // machines asked about
	}{
		{"all", true, "DescribeInstances", nil, 1},
		{"running by id", true, "DescribeInstances", []string{"InstanceId.1", ids[1]}, 0},
		{"pending by id", true, "DescribeInstances", []string{"InstanceId.1", pending}, 1},
		{"filtered", true, "DescribeInstances", []string{"Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "running"}, 1},
		{"status", true, "DescribeInstanceStatus", []string{"InstanceId.1", ids[0], "InstanceId.2", ids[2]}, 0},
		{"all, backend without the ability", false, "DescribeInstances", nil, 4},
		{"running by id, backend without the ability", false, "DescribeInstances", []string{"InstanceId.1", ids[1]}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.svc.Backend, asked = spied(c.settled), 0
			e.mustCall(t, "alice", c.action, c.kv...)
			if asked != c.want {
				t.Errorf("got %d machines asked about, want %d", asked, c.want)
			}
		})
	}

	// The machine stops, and the record is not told (a failed write).
	e.svc.Backend = sim
	var rec *store.Instance
	e.svc.Store.View(func(tx store.Tx) error { rec, _ = store.GetInstance(tx, "alice", ids[1]); return nil })
	if _, err := sim.Stop(t.Context(), rec.BackendID, false); err != nil {
		t.Fatal(err)
	}
	if got := stateOf(t, e, "alice", ids[1]); got != "running" {
		t.Errorf("described before any action: got %s, want running (as recorded)", got)
	}
	resp := e.mustCall(t, "alice", "StopInstances", "InstanceId.1", ids[1]).(*stateChangesResponse)
	if got := resp.Items[0].Previous.Name; got != "stopping" {
		t.Errorf("StopInstances: got previous state %s, want stopping (the machine asked)", got)
	}
	if got := stateOf(t, e, "alice", ids[1]); got != "stopping" {
		t.Errorf("described after StopInstances: got %s, want stopping", got)
	}
}
