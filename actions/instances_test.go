package actions

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
	"github.com/rs/zerolog"
)

var update = flag.Bool("update", false, "rewrite golden files")

// countingStore counts write transactions, to prove reads do not write.
type countingStore struct {
	store.Store
	updates atomic.Int64
}

func (c *countingStore) Update(fn func(store.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(fn)
}

// newInstanceEnv is the keypair tests' harness plus the sim backend (with
// its default delays: boot 3s, stop 2s, terminate 2s) and a movable clock.
func newInstanceEnv(t testing.TB, cfg *conf.Config) (*testEnv, *manualClock, *countingStore) {
	t.Helper()
	if cfg == nil {
		cfg = conf.Default()
	}
	st := openTestStore(t)
	clock := newManualClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	counted := &countingStore{Store: st}
	be := openTestSim(t, cfg, st, clock)
	e := &testEnv{
		svc:   &Service{Config: cfg, Store: counted, Backend: backend.Discover(be), Templates: templates.Default(), Clock: clock.Now, Log: zerolog.Nop()},
		users: testUsers(),
	}
	return e, clock, counted
}

const (
	debianAMI = "ami-0a1b2c3d4e5f60001"
	hadoopAMI = "ami-12c6146b"
)

// launch runs instances as user and returns their ids; kv may override
// the image and counts.
func launch(t testing.TB, e *testEnv, user string, kv ...string) []string {
	t.Helper()
	params := withDefaults(kv, "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")
	resp, err := e.callVersion(t, user, DefaultVersion, "RunInstances", params...)
	if err != nil {
		t.Fatalf("RunInstances as %s: %v", user, err)
	}
	var ids []string
	for _, inst := range resp.(*runInstancesResponse).Instances {
		ids = append(ids, inst.InstanceID)
	}
	return ids
}

func describe(t *testing.T, e *testEnv, user string, kv ...string) []instanceXML {
	t.Helper()
	resp := e.mustCall(t, user, "DescribeInstances", kv...).(*describeInstancesResponse)
	var out []instanceXML
	for _, r := range resp.Reservations {
		out = append(out, r.Instances...)
	}
	return out
}

func stateOf(t *testing.T, e *testEnv, user, id string) string {
	t.Helper()
	got := describe(t, e, user, "InstanceId.1", id)
	if len(got) != 1 {
		t.Fatalf("describe %s: got %d instances, want 1", id, len(got))
	}
	return got[0].State.Name
}

func TestRunInstancesRejectsBadInput(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	big := strings.Repeat("A", 4*(maxUserData/3+2)) // decodes to more than 16 KiB
	tests := []struct {
		name string
		kv   []string
		want string
	}{
		{"no image", []string{"MinCount", "1", "MaxCount", "1"}, ec2err.MissingParameter},
		{"malformed image", []string{"ImageId", "ami-xyz", "MinCount", "1", "MaxCount", "1"}, ec2err.InvalidAMIIDMalformed},
		{"unknown image", []string{"ImageId", "ami-00000000", "MinCount", "1", "MaxCount", "1"}, ec2err.InvalidAMIIDNotFound},
		{"unknown type", []string{"ImageId", debianAMI, "InstanceType", "z9.huge", "MinCount", "1", "MaxCount", "1"}, ec2err.InvalidParameterValue},
		{"unknown zone", []string{"ImageId", debianAMI, "Placement.AvailabilityZone", "eu-west-1a", "MinCount", "1", "MaxCount", "1"}, ec2err.InvalidParameterValue},
		{"no MaxCount", []string{"ImageId", debianAMI, "MinCount", "1"}, ec2err.MissingParameter},
		{"MinCount 0", []string{"ImageId", debianAMI, "MinCount", "0", "MaxCount", "1"}, ec2err.InvalidParameterValue},
		{"MaxCount below MinCount", []string{"ImageId", debianAMI, "MinCount", "3", "MaxCount", "2"}, ec2err.InvalidParameterValue},
		{"MinCount not a number", []string{"ImageId", debianAMI, "MinCount", "one", "MaxCount", "2"}, ec2err.InvalidParameterValue},
		{"MinCount above the cap", []string{"ImageId", debianAMI, "MinCount", "5000", "MaxCount", "5000"}, ec2err.InstanceLimitExceeded},
		{"user data too large", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "UserData", big}, ec2err.InvalidParameterValue},
		{"user data not base64", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "UserData", "!!!"}, ec2err.InvalidParameterValue},
		{"bad shutdown behavior", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "InstanceInitiatedShutdownBehavior", "hibernate"}, ec2err.InvalidParameterValue},
		{"tags for an image", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "TagSpecification.1.ResourceType", "image", "TagSpecification.1.Tag.1.Key", "a"}, ec2err.InvalidParameterValue},
		{"reserved tag key", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "aws:x"}, ec2err.InvalidParameterValue},
		{"unknown key pair", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "KeyName", "nokey"}, ec2err.InvalidKeyPairNotFound},
		{"dry run", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "DryRun", "true"}, ec2err.DryRunOperation},
		{"dedicated host", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "Placement.HostId", "h-0123456789abcdef0"}, ec2err.UnsupportedOperation},
		{"dedicated tenancy", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "Placement.Tenancy", "dedicated"}, ec2err.UnsupportedOperation},
		{"placement group", []string{"ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "Placement.GroupName", "hpc"}, ec2err.UnsupportedOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, "alice", "RunInstances", tt.kv...)
			wantCode(t, err, tt.want)
		})
	}
	if got := describe(t, e, "alice"); len(got) != 0 {
		t.Errorf("after only failed launches: got %d instances, want 0", len(got))
	}
}

// The default tenancy asked for by name is what every instance has.
func TestRunInstancesDefaultTenancy(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice", "Placement.Tenancy", "default")[0]
	if got := describe(t, e, "alice", "InstanceId.1", id)[0].Placement.Tenancy; got != "default" {
		t.Errorf("tenancy %q, want default", got)
	}
}

func TestRunInstancesCountsAndDefaults(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	resp, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "2", "MaxCount", "3",
		"UserData", "IyEvYmluL3NoCmVjaG8gaGkK", "TagSpecification.1.ResourceType", "instance",
		"TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web")
	if err != nil {
		t.Fatal(err)
	}
	res := resp.(*runInstancesResponse)
	if got, want := len(res.Instances), 3; got != want {
		t.Fatalf("instances launched: got %d, want %d (MaxCount when possible)", got, want)
	}
	for i, inst := range res.Instances {
		checks := []struct{ name, got, want string }{
			{"launch index", strconv.Itoa(inst.AmiLaunchIndex), strconv.Itoa(i)},
			{"state", inst.State.Name, "pending"},
			{"type", inst.InstanceType, "m1.small"},
			{"zone", inst.Placement.AvailabilityZone, "us-east-1a"},
			{"tag", fmt.Sprint(inst.Tags), "&{[{Name web}]}"},
			{"owner", res.OwnerID, "111111111111"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("instance %d %s: got %q, want %q", i, c.name, c.got, c.want)
			}
		}
		if inst.PrivateIPAddress == "" || !strings.HasPrefix(inst.PrivateDNSName, "ip-10-77-") {
			t.Errorf("instance %d: got address %q / %q, want a 10.77 address and its DNS name", i, inst.PrivateIPAddress, inst.PrivateDNSName)
		}
	}
	attr := e.mustCall(t, "alice", "DescribeInstanceAttribute", "InstanceId", res.Instances[0].InstanceID, "Attribute", "userData").(*instanceAttributeResponse)
	if got, want := attr.UserData.Value, "IyEvYmluL3NoCmVjaG8gaGkK"; got != want {
		t.Errorf("userData attribute: got %q, want %q", got, want)
	}
}

func TestClientTokenIdempotency(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	first := launch(t, e, "alice", "ClientToken", "tok-1", "MaxCount", "2")
	again := launch(t, e, "alice", "ClientToken", "tok-1", "MaxCount", "2")
	if fmt.Sprint(first) != fmt.Sprint(again) {
		t.Errorf("same token, same parameters: got %v, want the original %v", again, first)
	}
	_, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1", "InstanceType", "t3.micro", "ClientToken", "tok-1")
	wantCode(t, err, ec2err.IdempotentParameterMismatch)
	// Tokens are per student: bob's tok-1 is a new launch.
	if bobs := launch(t, e, "bob", "ClientToken", "tok-1", "MaxCount", "2"); bobs[0] == first[0] {
		t.Errorf("bob's token returned alice's reservation")
	}
	if got := describe(t, e, "alice"); len(got) != 2 {
		t.Errorf("alice's instances: got %d, want 2 (no duplicate launch)", len(got))
	}
}

// Only a token launch's first instance keeps the parameters' hash: a retry
// reads that one alone, and the others' copies were 80 bytes of each record.
func TestClientTokenHashOnFirstOnly(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	ids := launch(t, e, "alice", "ClientToken", "tok-3", "MaxCount", "3")
	err := e.svc.Store.View(func(tx store.Tx) error {
		for i, id := range ids {
			inst, err := store.GetInstance(tx, "alice", id)
			if err != nil {
				return err
			}
			if got, want := inst.LaunchHash != "", i == 0; got != want {
				t.Errorf("instance %d (%s) has a launch hash: got %v, want %v", i, id, got, want)
			}
			if inst.ClientToken != "tok-3" {
				t.Errorf("instance %d client token: got %q, want %q", i, inst.ClientToken, "tok-3")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if again := launch(t, e, "alice", "ClientToken", "tok-3", "MaxCount", "3"); fmt.Sprint(again) != fmt.Sprint(ids) {
		t.Errorf("retry: got %v, want the original %v", again, ids)
	}
}

// A ClientToken names its launch's first instance. If some other instance
// already holds that id, the launch takes an id of its own and overwrites
// nothing.
func TestClientTokenIDTaken(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	taken := store.DerivedID("i", "alice", "tok-9")
	other := &store.Instance{ID: taken, Owner: "alice", ReservationID: "r-0123456789abcdef0", State: "running"}
	if err := e.svc.Store.Update(func(tx store.Tx) error { return store.PutInstance(tx, other) }); err != nil {
		t.Fatal(err)
	}
	ids := launch(t, e, "alice", "ClientToken", "tok-9")
	if len(ids) != 1 || ids[0] == taken {
		t.Fatalf("launch with a token whose id is taken: got %v, want one new id other than %s", ids, taken)
	}
	err := e.svc.Store.View(func(tx store.Tx) error {
		got, err := store.GetInstance(tx, "alice", taken)
		if err == nil && (got == nil || got.ReservationID != other.ReservationID) {
			t.Errorf("the instance at %s: got %+v, want it untouched", taken, got)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInstanceLifecycle(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice")[0]
	change := func(action string, kv ...string) stateChangeXML {
		t.Helper()
		resp := e.mustCall(t, "alice", action, append([]string{"InstanceId.1", id}, kv...)...).(*stateChangesResponse)
		return resp.Items[0]
	}
	steps := []struct {
		name      string
		do        func() (prev, cur string)
		advance   time.Duration
		wantPrev  string
		wantCur   string
		wantAfter string
	}{
		{"boot", nil, 3 * time.Second, "", "", "running"},
		{"stop", func() (string, string) { c := change("StopInstances"); return c.Previous.Name, c.Current.Name }, 2 * time.Second, "running", "stopping", "stopped"},
		{"stop again", func() (string, string) { c := change("StopInstances"); return c.Previous.Name, c.Current.Name }, 0, "stopped", "stopped", "stopped"},
		{"start", func() (string, string) { c := change("StartInstances"); return c.Previous.Name, c.Current.Name }, 3 * time.Second, "stopped", "pending", "running"},
		{"reboot", func() (string, string) { e.mustCall(t, "alice", "RebootInstances", "InstanceId.1", id); return "", "" }, 0, "", "", "running"},
		{"terminate", func() (string, string) { c := change("TerminateInstances"); return c.Previous.Name, c.Current.Name }, 0, "running", "shutting-down", "shutting-down"},
		{"terminated", nil, 2 * time.Second, "", "", "terminated"},
		{"terminate again", func() (string, string) { c := change("TerminateInstances"); return c.Previous.Name, c.Current.Name }, 0, "terminated", "terminated", "terminated"},
	}
	for _, s := range steps {
		if s.do != nil {
			prev, cur := s.do()
			if prev != s.wantPrev || cur != s.wantCur {
				t.Fatalf("%s: got previous %q current %q, want %q %q", s.name, prev, cur, s.wantPrev, s.wantCur)
			}
		}
		clock.Advance(s.advance)
		if got := stateOf(t, e, "alice", id); got != s.wantAfter {
			t.Fatalf("%s: then state %s, want %s", s.name, got, s.wantAfter)
		}
	}
	inst := describe(t, e, "alice", "InstanceId.1", id)[0]
	if inst.StateReason == nil || inst.StateReason.Code != "Client.UserInitiatedShutdown" || !strings.HasPrefix(inst.Reason, "User initiated (") {
		t.Errorf("terminated instance: got stateReason %+v reason %q, want Client.UserInitiatedShutdown, User initiated (…)", inst.StateReason, inst.Reason)
	}
	// Visible for the expiration time (1h), then gone like an unknown id.
	clock.Advance(time.Hour + time.Second)
	if got := describe(t, e, "alice"); len(got) != 0 {
		t.Errorf("after expiration: got %d instances, want 0", len(got))
	}
	_, err := e.call(t, "alice", "DescribeInstances", "InstanceId.1", id)
	wantCode(t, err, ec2err.InvalidInstanceIDNotFound)
}

func TestStateChangeErrors(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice", "DisableApiTermination", "true")[0]
	tests := []struct {
		name   string
		action string
		kv     []string
		want   string
	}{
		{"stop pending", "StopInstances", []string{"InstanceId.1", id}, ec2err.IncorrectInstanceState},
		{"reboot pending", "RebootInstances", []string{"InstanceId.1", id}, ec2err.IncorrectInstanceState},
		{"terminate protected", "TerminateInstances", []string{"InstanceId.1", id}, ec2err.OperationNotPermitted},
		{"no ids to terminate", "TerminateInstances", nil, ec2err.InvalidParameterCombination},
		{"no ids to stop", "StopInstances", nil, ec2err.MissingParameter},
		{"malformed id", "StopInstances", []string{"InstanceId.1", "i-nothex"}, ec2err.InvalidInstanceIDMalformed},
		{"unknown id", "StartInstances", []string{"InstanceId.1", "i-0123456789abcdef0"}, ec2err.InvalidInstanceIDNotFound},
		{"one unknown among known", "StopInstances", []string{"InstanceId.1", id, "InstanceId.2", "i-0123456789abcdef0"}, ec2err.InvalidInstanceIDNotFound},
		{"modify type while running", "ModifyInstanceAttribute", []string{"InstanceId", id, "InstanceType.Value", "t3.micro"}, ec2err.IncorrectInstanceState},
		{"modify unknown type", "ModifyInstanceAttribute", []string{"InstanceId", id, "InstanceType.Value", "z9.huge"}, ec2err.InvalidInstanceAttributeValue},
		{"modify two attributes", "ModifyInstanceAttribute", []string{"InstanceId", id, "InstanceType.Value", "t3.micro", "DisableApiTermination.Value", "false"}, ec2err.InvalidParameterCombination},
		{"modify unsupported", "ModifyInstanceAttribute", []string{"InstanceId", id, "Attribute", "enaSupport", "Value", "false"}, ec2err.UnsupportedOperation},
		{"unknown attribute", "DescribeInstanceAttribute", []string{"InstanceId", id, "Attribute", "colour"}, ec2err.InvalidParameterValue},
		{"dry run stop", "TerminateInstances", []string{"InstanceId.1", launch(t, e, "alice")[0], "DryRun", "true"}, ec2err.DryRunOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.call(t, "alice", tt.action, tt.kv...)
			wantCode(t, err, tt.want)
		})
	}
	clock.Advance(3 * time.Second)
	// The protected instance survived; after lifting protection, stopping
	// and changing its type works.
	e.mustCall(t, "alice", "ModifyInstanceAttribute", "InstanceId", id, "Attribute", "disableApiTermination", "Value", "false")
	e.mustCall(t, "alice", "StopInstances", "InstanceId.1", id)
	clock.Advance(2 * time.Second)
	e.mustCall(t, "alice", "ModifyInstanceAttribute", "InstanceId", id, "InstanceType.Value", "t3.micro")
	if got := describe(t, e, "alice", "InstanceId.1", id)[0].InstanceType; got != "t3.micro" {
		t.Errorf("type after modify: got %s, want t3.micro", got)
	}
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", id)
}

func TestDescribeFilters(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	web := launch(t, e, "alice", "InstanceType", "t3.micro", "TagSpecification.1.ResourceType", "instance",
		"TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "web")[0]
	db := launch(t, e, "alice", "Placement.AvailabilityZone", "us-east-1b", "ImageId", hadoopAMI,
		"TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "role", "TagSpecification.1.Tag.1.Value", "db")[0]
	clock.Advance(3 * time.Second)
	stopped := launch(t, e, "alice")[0]
	clock.Advance(3 * time.Second)
	e.mustCall(t, "alice", "StopInstances", "InstanceId.1", stopped)
	dbInst := describe(t, e, "alice", "InstanceId.1", db)[0]
	filter := func(name string, values ...string) []string {
		kv := []string{"Filter.1.Name", name}
		for i, v := range values {
			kv = append(kv, "Filter.1.Value."+strconv.Itoa(i+1), v)
		}
		return kv
	}
	tests := []struct {
		name string
		kv   []string
		want []string
	}{
		{"state running", filter("instance-state-name", "running"), []string{web, db}},
		{"state code 64 or 80", filter("instance-state-code", "64", "80"), []string{stopped}},
		{"type", filter("instance-type", "t3.*"), []string{web}},
		{"image", filter("image-id", hadoopAMI), []string{db}},
		{"zone", filter("availability-zone", "us-east-1?"), []string{web, db, stopped}},
		{"zone b", filter("availability-zone", "*b"), []string{db}},
		{"tag value", filter("tag:role", "web", "db"), []string{web, db}},
		{"tag key", filter("tag-key", "role"), []string{web, db}},
		{"tag-value wildcard", filter("tag-value", "d?"), []string{db}},
		{"id", filter("instance-id", stopped), []string{stopped}},
		{"private ip", filter("private-ip-address", dbInst.PrivateIPAddress), []string{db}},
		{"private dns", filter("private-dns-name", dbInst.PrivateDNSName), []string{db}},
		{"dns name", filter("dns-name", dbInst.DNSName), []string{db}},
		{"reservation", filter("reservation-id", describeReservation(t, e, db)), []string{db}},
		{"launch time", filter("launch-time", "2026-11-21T12:00:00*"), []string{web, db}},
		{"group name", filter("instance.group-name", "default"), []string{web, db, stopped}},
		{"no key name", filter("key-name", "*"), nil},
		{"two filters AND", append(filter("tag:role", "web", "db"), "Filter.2.Name", "availability-zone", "Filter.2.Value.1", "us-east-1a"), []string{web}},
		{"ids and filter", append(filter("instance-state-name", "running"), "InstanceId.1", stopped), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, inst := range describe(t, e, "alice", tt.kv...) {
				got = append(got, inst.InstanceID)
			}
			sort.Strings(got)
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	_, err := e.call(t, "alice", "DescribeInstances", filter("instance-colour", "red")...)
	wantCode(t, err, ec2err.InvalidParameterValue)
}

func describeReservation(t *testing.T, e *testEnv, id string) string {
	resp := e.mustCall(t, "alice", "DescribeInstances", "InstanceId.1", id).(*describeInstancesResponse)
	return resp.Reservations[0].ReservationID
}

func TestDescribePagination(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	all := launch(t, e, "alice", "MinCount", "12", "MaxCount", "12")
	seen := map[string]int{}
	token, pages := "", 0
	for {
		kv := []string{"MaxResults", "5"}
		if token != "" {
			kv = append(kv, "NextToken", token)
		}
		resp := e.mustCall(t, "alice", "DescribeInstances", kv...).(*describeInstancesResponse)
		pages++
		for _, r := range resp.Reservations {
			for _, inst := range r.Instances {
				seen[inst.InstanceID]++
			}
		}
		if token = resp.NextToken; token == "" {
			break
		}
	}
	if pages != 3 || len(seen) != len(all) {
		t.Errorf("paging 12 by 5: got %d pages, %d distinct ids, want 3 pages, 12 ids", pages, len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times, want once", id, n)
		}
	}
	errs := []struct {
		name string
		kv   []string
		want string
	}{
		{"MaxResults with ids", []string{"MaxResults", "5", "InstanceId.1", all[0]}, ec2err.InvalidParameterCombination},
		{"MaxResults too small", []string{"MaxResults", "4"}, ec2err.InvalidParameterValue},
		{"bad token", []string{"MaxResults", "5", "NextToken", "%%%"}, ec2err.InvalidNextToken},
	}
	for _, tt := range errs {
		_, err := e.call(t, "alice", "DescribeInstances", tt.kv...)
		if !ec2err.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %s", tt.name, err, tt.want)
		}
	}
}

func TestInstancesAreIsolated(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	alices := launch(t, e, "alice")[0]
	tests := []struct {
		action string
		kv     []string
		want   string
	}{
		{"DescribeInstances", []string{"InstanceId.1", alices}, ec2err.InvalidInstanceIDNotFound},
		{"TerminateInstances", []string{"InstanceId.1", alices}, ec2err.InvalidInstanceIDNotFound},
		{"StopInstances", []string{"InstanceId.1", alices}, ec2err.InvalidInstanceIDNotFound},
		{"GetConsoleOutput", []string{"InstanceId", alices}, ec2err.InvalidInstanceIDNotFound},
		{"DescribeInstanceAttribute", []string{"InstanceId", alices, "Attribute", "userData"}, ec2err.InvalidInstanceIDNotFound},
		{"ModifyInstanceAttribute", []string{"InstanceId", alices, "DisableApiTermination.Value", "true"}, ec2err.InvalidInstanceIDNotFound},
		{"CreateTags", []string{"ResourceId.1", alices, "Tag.1.Key", "x"}, ec2err.InvalidInstanceIDNotFound},
		{"DeleteTags", []string{"ResourceId.1", alices}, ec2err.InvalidInstanceIDNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			_, err := e.call(t, "bob", tt.action, tt.kv...)
			wantCode(t, err, tt.want)
		})
	}
	if got := describe(t, e, "bob"); len(got) != 0 {
		t.Errorf("bob's listing: got %d instances, want 0", len(got))
	}
	if got := e.mustCall(t, "bob", "DescribeInstanceStatus", "IncludeAllInstances", "true").(*describeInstanceStatusResponse); len(got.Statuses) != 0 {
		t.Errorf("bob's statuses: got %d, want 0", len(got.Statuses))
	}
	if got := stateOf(t, e, "alice", alices); got != "pending" {
		t.Errorf("alice's instance after bob's attempts: got %s, want pending", got)
	}
}

func TestDescribeWritesOnlyOnChange(t *testing.T) {
	e, clock, counted := newInstanceEnv(t, nil)
	launch(t, e, "alice", "MaxCount", "3")
	before := counted.updates.Load()
	describe(t, e, "alice") // pending, nothing elapsed: nothing to write
	if got := counted.updates.Load() - before; got != 0 {
		t.Errorf("describe with no state change: got %d writes, want 0", got)
	}
	clock.Advance(3 * time.Second)
	describe(t, e, "alice")
	if got := counted.updates.Load() - before; got != 1 {
		t.Errorf("describe after boot: got %d writes, want 1 (one transaction for all changes)", got)
	}
	describe(t, e, "alice")
	describe(t, e, "alice", "Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "running")
	if got := counted.updates.Load() - before; got != 1 {
		t.Errorf("describes after recording: got %d writes, want still 1", got)
	}
}

func TestInstanceStatusAndConsole(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	id := launch(t, e, "alice", "InstanceType", "t3.small")[0]
	statuses := func(kv ...string) []instanceStatusXML {
		return e.mustCall(t, "alice", "DescribeInstanceStatus", kv...).(*describeInstanceStatusResponse).Statuses
	}
	if got := statuses(); len(got) != 0 {
		t.Errorf("pending instance without IncludeAllInstances: got %d statuses, want 0", len(got))
	}
	if got := statuses("IncludeAllInstances", "true"); len(got) != 1 || got[0].InstanceStatus.Status != "not-applicable" {
		t.Errorf("pending with IncludeAllInstances: got %+v, want one not-applicable", got)
	}
	clock.Advance(3 * time.Second)
	got := statuses("Filter.1.Name", "instance-status.status", "Filter.1.Value.1", "ok")
	if len(got) != 1 || got[0].InstanceID != id || got[0].SystemStatus.Details[0].Status != "passed" {
		t.Errorf("running instance: got %+v, want one ok/passed", got)
	}
	out := e.mustCall(t, "alice", "GetConsoleOutput", "InstanceId", id).(*consoleOutputResponse)
	text, err := decodeB64(out.Output)
	if err != nil || !strings.Contains(text, id) || !strings.Contains(text, "t3.small") {
		t.Errorf("console output: got %q (%v), want a boot log naming %s and t3.small", text, err, id)
	}
}

func decodeB64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// failingBackend refuses every launch.
type failingBackend struct{ backend.Backend }

func (failingBackend) Run(context.Context, *backend.LaunchContext) (backend.Machine, error) {
	return backend.Machine{}, errors.New("hypervisor on fire")
}

func TestBackendLaunchFailure(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	e.svc.Backend = backend.Discover(failingBackend{e.svc.Backend})
	_, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "2")
	if err == nil || ec2err.As(err).Code != ec2err.InternalError || strings.Contains(ec2err.As(err).Message, "fire") {
		t.Fatalf("got %v, want an InternalError that hides the backend's detail", err)
	}
	got := describe(t, e, "alice")
	if len(got) != 2 {
		t.Fatalf("after a failed launch: got %d instances, want 2 terminated records", len(got))
	}
	for _, inst := range got {
		if inst.State.Name != "terminated" || inst.StateReason == nil || inst.StateReason.Code != "Server.InternalError" {
			t.Errorf("%s: got %s %+v, want terminated with Server.InternalError", inst.InstanceID, inst.State.Name, inst.StateReason)
		}
	}
}

// hookBackend runs a hook inside Run, while the launch is in flight.
type hookBackend struct {
	backend.Backend
	hook func()
}

func (h hookBackend) Run(ctx context.Context, lc *backend.LaunchContext) (backend.Machine, error) {
	h.hook()
	return h.Backend.Run(ctx, lc)
}

func TestTerminateDuringLaunch(t *testing.T) {
	e, clock, _ := newInstanceEnv(t, nil)
	sim := e.svc.Backend
	var inFlight string
	e.svc.Backend = backend.Discover(hookBackend{sim, func() {
		// The intent is committed: the student sees the instance and terminates it.
		inFlight = describe(t, e, "alice")[0].InstanceID
		e.svc.Backend = sim
		e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", inFlight)
	}})
	if _, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if got := stateOf(t, e, "alice", inFlight); got != "terminated" {
		t.Errorf("instance terminated during its launch: got %s, want terminated", got)
	}
	var rec *store.Instance
	e.svc.Store.View(func(tx store.Tx) error { rec, _ = store.GetInstance(tx, "alice", inFlight); return nil })
	ms, _ := sim.Describe(t.Context(), []string{rec.BackendID})
	if rec.BackendID == "" || ms[0].State != backend.Terminated {
		t.Errorf("its machine %q: got %s, want terminated (no orphan left running)", rec.BackendID, ms[0].State)
	}
}

// RecoverLaunches finds the intents a crash left through their index,
// without reading every instance, and empties the index.
func TestRecoverLaunches(t *testing.T) {
	e, _, _ := newInstanceEnv(t, nil)
	owner := "alice"
	launched := launch(t, e, owner, "MinCount", "3", "MaxCount", "3")
	// Two intents a crash left behind: one the backend ran, one it never
	// saw; and one its student terminated before the crash.
	ran, lost, gone := "i-0000000000000aaa1", "i-0000000000000aaa2", "i-0000000000000aaa3"
	if _, err := e.svc.Backend.Run(t.Context(), &backend.LaunchContext{InstanceID: ran, Zone: "us-east-1a"}); err != nil {
		t.Fatal(err)
	}
	err := e.svc.Store.Update(func(tx store.Tx) error {
		for _, id := range []string{ran, lost, gone} {
			inst := &store.Instance{ID: id, Owner: owner, ReservationID: "r-0000000000000aaa0", ImageID: debianAMI, InstanceType: "m1.small", Zone: "us-east-1a", State: "pending"}
			if err := store.PutInstance(tx, inst); err != nil {
				return err
			}
		}
		inst, err := store.GetInstance(tx, owner, gone)
		if err != nil {
			return err
		}
		inst.State = "terminated"
		return store.PutInstance(tx, inst)
	})
	if err != nil {
		t.Fatal(err)
	}
	scans := &readSpy{Store: e.svc.Store}
	e.svc.Store = scans
	if err := e.svc.RecoverLaunches(t.Context(), AllOrphaned); err != nil {
		t.Fatal(err)
	}
	e.svc.Store = scans.Store
	if scans.scanned[store.BucketInstances] {
		t.Errorf("recovery scanned bucket %s, want only the index of intents", store.BucketInstances)
	}
	want := map[string]string{ran: "pending", lost: "terminated", gone: "terminated"}
	for _, id := range launched {
		want[id] = "pending"
	}
	for _, inst := range describe(t, e, owner) {
		if inst.State.Name != want[inst.InstanceID] {
			t.Errorf("%s after recovery: got %s, want %s", inst.InstanceID, inst.State.Name, want[inst.InstanceID])
		}
	}
	if got := launchIntents(t, e.svc.Store); len(got) != 0 {
		t.Errorf("index of intents after recovery: got %v, want none", got)
	}
}

// A launch outside the store (intent, backend, record) leaves no entry in
// the index of intents, whether the backend ran it or refused.
func TestLaunchIntentIndexEmptiedByTheAnswer(t *testing.T) {
	for _, c := range []struct {
		name string
		be   func(backend.Backend) backend.Backend
	}{
		{"ran", func(b backend.Backend) backend.Backend { return hookBackend{b, func() {}} }},
		{"refused", func(b backend.Backend) backend.Backend { return outOfStore{b} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, _, _ := newInstanceEnv(t, nil)
			sim := e.svc.Backend
			var during []string
			e.svc.Backend = backend.Discover(hookBackend{c.be(sim.Backend), func() { during = launchIntents(t, e.svc.Store) }})
			e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")
			if len(during) != 1 {
				t.Errorf("index while the backend runs the launch: got %v, want its one intent", during)
			}
			if got := launchIntents(t, e.svc.Store); len(got) != 0 {
				t.Errorf("index once the answer is recorded: got %v, want none", got)
			}
		})
	}
}

// launchIntents lists the index of launch intents (OWNER/ID).
func launchIntents(t *testing.T, st store.Store) []string {
	t.Helper()
	var out []string
	err := st.View(func(tx store.Tx) error {
		return store.ScanLaunchIntents(tx, func(owner, id string) error {
			out = append(out, owner+"/"+id)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readSpy watches the reads of the transactions through it: it counts
// the single-key reads (Tx.Get) and records the buckets scanned.
type readSpy struct {
	store.Store
	gets    atomic.Int64
	mu      sync.Mutex
	scanned map[store.Bucket]bool
}

func (s *readSpy) View(fn func(store.Tx) error) error {
	return s.Store.View(func(tx store.Tx) error { return fn(readSpyTx{tx, s}) })
}

func (s *readSpy) Update(fn func(store.Tx) error) error {
	return s.Store.Update(func(tx store.Tx) error { return fn(readSpyTx{tx, s}) })
}

type readSpyTx struct {
	store.Tx
	s *readSpy
}

func (t readSpyTx) Get(b store.Bucket, key string) []byte {
	t.s.gets.Add(1)
	return t.Tx.Get(b, key)
}

func (t readSpyTx) Scan(b store.Bucket, prefix string, fn func(string, []byte) error) error {
	t.s.mu.Lock()
	if t.s.scanned == nil {
		t.s.scanned = map[store.Bucket]bool{}
	}
	t.s.scanned[b] = true
	t.s.mu.Unlock()
	return t.Tx.Scan(b, prefix, fn)
}

// normalize replaces generated ids with stable placeholders (in order of
// first appearance) so golden files compare across runs.
func normalize(s string) string {
	seen := map[string]string{}
	re := regexp.MustCompile(`\b(i|r|sg|vol|eni|eni-attach)-[0-9a-f]{17}\b`)
	s = regexp.MustCompile(`\b0e(:[0-9a-f]{2}){5}\b`).ReplaceAllString(s, "0e:MAC")
	return re.ReplaceAllStringFunc(s, func(id string) string {
		if p, ok := seen[id]; ok {
			return p
		}
		prefix := id[:strings.LastIndexByte(id, '-')]
		n := 0
		for k := range seen {
			if strings.HasPrefix(k, prefix+"-") {
				n++
			}
		}
		seen[id] = fmt.Sprintf("%s-ID%d", prefix, n+1)
		return seen[id]
	})
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got := normalize(string(raw)) + "\n"
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

// TestDescribeShapesByVersion pins the two shapes clients depend on: the
// current one, and the 2010-08-31 one boto 2.0b3 parses (group names in the
// reservation's groupId, no instance-level groupSet).
func TestDescribeShapesByVersion(t *testing.T) {
	cfg := conf.Default()
	cfg.ElasticIPs.LaunchPool = []string{"192.0.2.10"} // the public address shown, not a random one
	e, clock, _ := newInstanceEnv(t, cfg)
	e.mustCall(t, "alice", "CreateSecurityGroup", "GroupName", "cs61c-ab-testing", "GroupDescription", "Cluster")
	// The address is asked for: the sim hands out a random one.
	launch(t, e, "alice", "ImageId", hadoopAMI, "SecurityGroup.1", "cs61c-ab-testing", "PrivateIpAddress", "10.77.0.4",
		"TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "nn")
	clock.Advance(3 * time.Second)
	for _, version := range []string{"2016-11-15", "2010-08-31"} {
		t.Run(version, func(t *testing.T) {
			resp, err := e.callVersion(t, "alice", version, "DescribeInstances")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "describe-instances-"+version+".golden", resp)
			raw, _ := xml.Marshal(resp)
			inst := string(raw)[strings.Index(string(raw), "<instancesSet>"):]
			hasGroups := strings.Contains(inst, "<groupSet>")
			if old := version < "2016-11-15"; hasGroups == old {
				t.Errorf("instance-level groupSet present = %v, want %v", hasGroups, !old)
			}
		})
	}
}

// BenchmarkDescribeInstances: 10,000 instances across 500 students; one
// student's describe, all of theirs, by id, and with filters.
func BenchmarkDescribeInstances(b *testing.B) {
	e, clock, _ := newInstanceEnv(b, nil)
	const students, perStudent = 500, 20
	var ids []string
	for s := range students {
		name := fmt.Sprintf("student%03d", s)
		e.users[name] = &store.User{Name: name, AccountID: fmt.Sprintf("%012d", s)}
		got := launch(b, e, name, "MinCount", strconv.Itoa(perStudent), "MaxCount", strconv.Itoa(perStudent))
		if s == students/2 {
			ids = got
		}
	}
	clock.Advance(time.Minute)
	student := fmt.Sprintf("student%03d", students/2)
	e.call(b, student, "DescribeInstances") // record the boots once
	cases := []struct {
		name string
		kv   []string
	}{
		{"all", nil},
		{"by-id", []string{"InstanceId.1", ids[7]}},
		{"filter-state-and-tag", []string{"Filter.1.Name", "instance-state-name", "Filter.1.Value.1", "running", "Filter.2.Name", "instance-type", "Filter.2.Value.1", "m1.*"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.call(b, student, "DescribeInstances", c.kv...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRunInstancesParallel launches one instance per call from many
// goroutines at once, as a class does at the start of a lab: concurrent
// launches must share commits rather than queue behind one fsync each.
//
// Quotas are checked (every limit set, as by default) but never reached.
func BenchmarkRunInstancesParallel(b *testing.B) {
	cfg := conf.Default()
	high := quota.Int(1 << 30)
	cfg.Quota.MaxInstances, cfg.Quota.MaxVCPUs, cfg.Quota.MaxVolumes, cfg.Quota.MaxVolumeGiB = high, high, high, high
	e, _, _ := newInstanceEnv(b, cfg)
	const students = 32
	for s := range students {
		name := fmt.Sprintf("student%03d", s)
		e.users[name] = &store.User{Name: name, AccountID: fmt.Sprintf("%012d", s)}
	}
	var next atomic.Int64
	b.SetParallelism(32 / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		student := fmt.Sprintf("student%03d", next.Add(1)%students)
		for pb.Next() {
			if _, err := e.call(b, student, "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// When the backend runs out of capacity part-way, RunInstances launches as
// many as it can (at least MinCount, as EC2 does) and records nothing else.
func TestRunInstancesCapacity(t *testing.T) {
	cfg := conf.Default()
	cfg.Backend.Sim.CIDR = "10.9.0.0/29"              // three usable addresses
	cfg.AvailabilityZones = cfg.AvailabilityZones[:1] // so the one default subnet is the whole range
	e, _, _ := newInstanceEnv(t, cfg)
	if got := launch(t, e, "alice", "MinCount", "1", "MaxCount", "5"); len(got) != 3 {
		t.Fatalf("MinCount 1 MaxCount 5 with room for 3: got %d instances, want 3", len(got))
	}
	_, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1")
	wantCode(t, err, ec2err.InsufficientInstanceCapacity)
	resp, err := e.call(t, "alice", "DescribeInstances")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, res := range resp.(*describeInstancesResponse).Reservations {
		n += len(res.Instances)
	}
	if n != 3 {
		t.Errorf("after the refused launch: got %d instances, want 3 (nothing recorded for it)", n)
	}
	vols, err := e.call(t, "alice", "DescribeVolumes")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(vols.(*describeVolumesResponse).Volumes); got != 3 {
		t.Errorf("got %d root volumes, want 3: none for instances that did not launch", got)
	}
}

// ec2Time writes what time.Format writes with EC2's layout.
func TestEC2TimeAsFormat(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	cases := []struct {
		name string
		t    time.Time
	}{
		{"zero", time.Time{}},
		{"whole second", time.Date(2026, 12, 3, 16, 45, 0, 0, time.UTC)},
		{"milliseconds truncated", time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC)},
		{"another zone", time.Date(2026, 12, 31, 23, 59, 59, 7_000_000, paris)},
		{"last four-digit year", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"five-digit year", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"negative year", time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, want := ec2Time(c.t), c.t.UTC().Format(ec2TimeLayout); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}
