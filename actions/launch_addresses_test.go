package actions

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// launchPoolEnv is an instance environment whose launch pool is pool.
func launchPoolEnv(t *testing.T, pool ...string) (*testEnv, *manualClock) {
	t.Helper()
	cfg := conf.Default()
	cfg.ElasticIPs.LaunchPool = pool
	e, clock, _ := newInstanceEnv(t, cfg)
	return e, clock
}

// shownIP is the public address DescribeInstances shows for id ("" for none).
func shownIP(t *testing.T, e *testEnv, user, id string) string {
	t.Helper()
	got := describe(t, e, user, "InstanceId.1", id)
	if len(got) != 1 {
		t.Fatalf("describe %s: got %d instances, want 1", id, len(got))
	}
	return got[0].IPAddress
}

// heldLaunchAddresses is the launch addresses taken, each with its holder.
func heldLaunchAddresses(t *testing.T, s *Service) map[string]string {
	t.Helper()
	held := map[string]string{}
	err := s.Store.View(func(tx store.Tx) error {
		return store.ScanJSON(tx, store.BucketLaunchAddresses, "", func(ip string, a *store.LaunchAddress) error {
			held[ip] = a.InstanceID
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return held
}

func TestConcurrentLaunchesGetDistinctLaunchAddresses(t *testing.T) {
	const students, each = 8, 3
	var pool []string
	for i := range students * each {
		pool = append(pool, fmt.Sprintf("192.0.2.%d", 10+i))
	}
	e, _ := launchPoolEnv(t, pool...)
	var wg sync.WaitGroup
	ids := make([][]string, students)
	for i := range students {
		user := "alice"
		if i%2 == 1 {
			user = "bob"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := e.call(t, user, "RunInstances", "ImageId", debianAMI, "MinCount", fmt.Sprint(each), "MaxCount", fmt.Sprint(each))
			if err != nil {
				t.Errorf("RunInstances as %s: %v", user, err)
				return
			}
			for _, inst := range resp.(*runInstancesResponse).Instances {
				ids[i] = append(ids[i], inst.InstanceID)
			}
		}()
	}
	wg.Wait()
	seen := map[string]string{}
	for i, list := range ids {
		user := map[bool]string{true: "alice", false: "bob"}[i%2 == 0]
		for _, id := range list {
			ip := shownIP(t, e, user, id)
			if ip == "" {
				t.Errorf("got no public address on %s, want one of the pool (%d addresses for %d instances)", id, len(pool), students*each)
				continue
			}
			if other, dup := seen[ip]; dup {
				t.Errorf("got %s on both %s and %s, want each launch address on one instance", ip, other, id)
			}
			seen[ip] = id
		}
	}
	if got := heldLaunchAddresses(t, e.svc); len(got) != students*each {
		t.Errorf("got %d launch addresses taken, want %d", len(got), students*each)
	}
}

func TestLaunchAddressFollowsTheInstanceState(t *testing.T) {
	e, clock := launchPoolEnv(t, "192.0.2.10", "192.0.2.11")
	id := launch(t, e, "alice")[0]
	first := shownIP(t, e, "alice", id)
	if first == "" {
		t.Fatalf("got no public address after launch in a default subnet, want one of the launch pool")
	}
	clock.Advance(time.Minute)
	e.mustCall(t, "alice", "StopInstances", "InstanceId.1", id)
	if got := shownIP(t, e, "alice", id); got != "" {
		t.Errorf("got public address %s on a stopping instance, want none (EC2 releases it at stop)", got)
	}
	if got := heldLaunchAddresses(t, e.svc); len(got) != 0 {
		t.Errorf("got launch addresses %v taken after the stop, want none", got)
	}
	clock.Advance(time.Minute)
	if got := stateOf(t, e, "alice", id); got != "stopped" {
		t.Fatalf("got %s, want stopped", got)
	}
	// Another instance takes an address meanwhile: the start gets what is free.
	other := launch(t, e, "bob")[0]
	taken := shownIP(t, e, "bob", other)
	e.mustCall(t, "alice", "StartInstances", "InstanceId.1", id)
	second := shownIP(t, e, "alice", id)
	if second == "" || second == taken {
		t.Errorf("got public address %q after the start (bob holds %s), want the pool's other one", second, taken)
	}
	if got := heldLaunchAddresses(t, e.svc)[second]; got != id {
		t.Errorf("got %s held by %q, want %s", second, got, id)
	}
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", id)
	if got := heldLaunchAddresses(t, e.svc); len(got) != 1 || got[taken] != other {
		t.Errorf("got launch addresses %v taken after the terminate, want only bob's %s", got, taken)
	}
	if got := shownIP(t, e, "alice", id); got != "" {
		t.Errorf("got public address %q on the terminating instance, want none", got)
	}
}

func TestWhoGetsALaunchAddress(t *testing.T) {
	e, _ := launchPoolEnv(t, "192.0.2.0/28")
	_, own := ownVPC(t, e, "alice", "10.1.0.0/16", "10.1.2.0/24", "us-east-1a")
	_, mapped := ownVPC(t, e, "alice", "10.2.0.0/16", "10.2.2.0/24", "us-east-1a")
	e.mustCall(t, "alice", "ModifySubnetAttribute", "SubnetId", mapped, "MapPublicIpOnLaunch.Value", "true")
	nic := func(subnet, public string) []string {
		kv := []string{"NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.SubnetId", subnet}
		if public != "" {
			kv = append(kv, "NetworkInterface.1.AssociatePublicIpAddress", public)
		}
		return kv
	}
	defaultSubnet := store.DefaultSubnetID("alice", "us-east-1a")
	template := newTemplate(t, e, "alice", "private", "LaunchTemplateData.ImageId", debianAMI,
		"LaunchTemplateData.NetworkInterface.1.DeviceIndex", "0", "LaunchTemplateData.NetworkInterface.1.AssociatePublicIpAddress", "false")
	tests := []struct {
		name   string
		params []string
		want   bool
	}{
		{"default subnet", nil, true},
		{"default subnet named", []string{"SubnetId", defaultSubnet}, true},
		{"default subnet, explicit false", nic(defaultSubnet, "false"), false},
		{"default subnet, explicit true", nic(defaultSubnet, "true"), true},
		{"own subnet", []string{"SubnetId", own}, false},
		{"own subnet, explicit true", nic(own, "true"), true},
		{"own subnet, explicit false", nic(own, "false"), false},
		{"own subnet mapped by ModifySubnetAttribute", []string{"SubnetId", mapped}, true},
		{"own subnet mapped, explicit false", nic(mapped, "false"), false},
		{"launch template, explicit false", []string{"LaunchTemplate.LaunchTemplateId", template}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := launch(t, e, "alice", tt.params...)[0]
			if got := shownIP(t, e, "alice", id); (got != "") != tt.want {
				t.Errorf("got public address %q, want one: %v", got, tt.want)
			}
		})
	}
}

func TestLaunchAddressPoolExhausted(t *testing.T) {
	e, _ := launchPoolEnv(t, "192.0.2.10")
	first := launch(t, e, "alice")[0]
	if got := shownIP(t, e, "alice", first); got != "192.0.2.10" {
		t.Fatalf("got public address %q, want the pool's one 192.0.2.10", got)
	}
	// Inherited from the subnet: launched, with no address.
	second := launch(t, e, "bob")[0]
	if got := shownIP(t, e, "bob", second); got != "" {
		t.Errorf("got public address %q with the pool exhausted, want none", got)
	}
	// Asked for outright: refused, and nothing launched.
	_, err := e.call(t, "bob", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1",
		"NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.AssociatePublicIpAddress", "true")
	wantCode(t, err, ec2err.AddressLimitExceeded)
	if err != nil && !strings.Contains(err.Error(), "launch pool") {
		t.Errorf("got message %q, want it to name the launch pool", err)
	}
	if got := describe(t, e, "bob"); len(got) != 1 {
		t.Errorf("got %d instances of bob's, want 1 (the refused launch made none)", len(got))
	}
}

func TestNoLaunchPool(t *testing.T) {
	e, _ := launchPoolEnv(t)
	subnets := e.mustCall(t, "alice", "DescribeSubnets").(*describeSubnetsResponse).Subnets
	for _, sn := range subnets {
		if sn.MapPublicIPOnLaunch {
			t.Errorf("got default subnet %s mapPublicIpOnLaunch true with no launch pool, want false", sn.SubnetID)
		}
	}
	id := launch(t, e, "alice")[0]
	if got := shownIP(t, e, "alice", id); got != "" {
		t.Errorf("got public address %q with no launch pool, want none", got)
	}
	_, err := e.call(t, "alice", "RunInstances", "ImageId", debianAMI, "MinCount", "1", "MaxCount", "1",
		"NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.AssociatePublicIpAddress", "true")
	wantCode(t, err, ec2err.AddressLimitExceeded)
	_, err = e.call(t, "alice", "ModifySubnetAttribute", "SubnetId", subnets[0].SubnetID, "MapPublicIpOnLaunch.Value", "true")
	wantCode(t, err, ec2err.UnsupportedOperation)
}

func TestLaunchAddressShownAndFiltered(t *testing.T) {
	e, _ := launchPoolEnv(t, "192.0.2.10")
	id := launch(t, e, "alice")[0]
	launch(t, e, "alice", "NetworkInterface.1.DeviceIndex", "0", "NetworkInterface.1.AssociatePublicIpAddress", "false")
	inst := describe(t, e, "alice", "InstanceId.1", id)[0]
	if inst.IPAddress != "192.0.2.10" || inst.DNSName != "192.0.2.10" {
		t.Errorf("got ipAddress %q dnsName %q, want 192.0.2.10 both", inst.IPAddress, inst.DNSName)
	}
	wantAssoc := interfaceAssociationXML{IPOwnerID: "amazon", PublicDNSName: "192.0.2.10", PublicIP: "192.0.2.10"}
	if a := inst.NetworkInterfaces.Items[0].Association; a == nil || *a != wantAssoc {
		t.Errorf("got the instance's interface association %+v, want %+v", a, wantAssoc)
	}
	nis := e.mustCall(t, "alice", "DescribeNetworkInterfaces", "Filter.1.Name", "association.public-ip", "Filter.1.Value.1", "192.0.2.10").(*describeNetworkInterfacesResponse).NetworkInterfaces
	if len(nis) != 1 || nis[0].Association == nil || *nis[0].Association != wantAssoc || nis[0].Attachment.InstanceID != id {
		t.Errorf("got interfaces %+v by association.public-ip, want %s's with association %+v", nis, id, wantAssoc)
	}
	for _, f := range []string{"ip-address", "network-interface.association.public-ip"} {
		got := describe(t, e, "alice", "Filter.1.Name", f, "Filter.1.Value.1", "192.0.2.10")
		if len(got) != 1 || got[0].InstanceID != id {
			t.Errorf("filter %s: got %d instances, want only %s", f, len(got), id)
		}
	}
}

func TestLaunchAddressGoesForAnElasticIPAndComesBack(t *testing.T) {
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = []string{"203.0.113.10"}
	cfg.ElasticIPs.LaunchPool = []string{"192.0.2.10", "192.0.2.11"}
	e, clock, _ := newInstanceEnv(t, cfg)
	fp := &fakeAddressProvider{}
	e.svc.Addresses = fp
	reconcile(t, e.svc)
	id := launch(t, e, "alice")[0]
	clock.Advance(time.Minute)
	first := shownIP(t, e, "alice", id)
	a := e.mustCall(t, "alice", "AllocateAddress").(*allocateAddressResponse)
	assoc := e.mustCall(t, "alice", "AssociateAddress", "AllocationId", a.AllocationID, "InstanceId", id).(*associateAddressResponse)
	if got := shownIP(t, e, "alice", id); got != "203.0.113.10" {
		t.Errorf("got public address %q with the elastic IP associated, want 203.0.113.10", got)
	}
	if got := heldLaunchAddresses(t, e.svc); len(got) != 0 {
		t.Errorf("got launch addresses %v taken with the elastic IP associated, want none", got)
	}
	e.mustCall(t, "alice", "DisassociateAddress", "AssociationId", assoc.AssociationID)
	second := shownIP(t, e, "alice", id)
	if second == "" || second == "203.0.113.10" {
		t.Errorf("got public address %q after disassociating the elastic IP, want a new launch address", second)
	}
	e.mustCall(t, "alice", "StopInstances", "InstanceId.1", id)
	want := []string{
		"associate " + first + " " + id,
		"disassociate " + first + " " + id, "associate 203.0.113.10 " + id,
		"disassociate 203.0.113.10 " + id, "associate " + second + " " + id,
		"disassociate " + second + " " + id,
	}
	if got := fp.takeCalls(); !eipEqualCalls(got, want) {
		t.Errorf("got provider calls %q, want %q", got, want)
	}
	for _, seen := range fp.seen {
		if seen.Launch != strings.HasPrefix(seen.PublicIP, "192.0.2.") {
			t.Errorf("got %s told launch=%v, want true exactly for launch addresses", seen.PublicIP, seen.Launch)
		}
	}
	if got := heldLaunchAddresses(t, e.svc); len(got) != 0 {
		t.Errorf("got launch addresses %v taken after the stop, want none", got)
	}
	if in := eipIntents(t, e.svc); len(in) != 0 {
		t.Errorf("got intents %+v, want none", in)
	}
}

// A launch address whose association fails is not shown, and is free
// again once its undo has run; one whose undo fails too stays taken.
func TestLaunchAddressWiringFails(t *testing.T) {
	cfg := conf.Default()
	cfg.ElasticIPs.LaunchPool = []string{"192.0.2.10"}
	e, _, _ := newInstanceEnv(t, cfg)
	fp := &fakeAddressProvider{}
	e.svc.Addresses = fp
	fp.setFail("associate 192.0.2.10", true)
	id := launch(t, e, "alice")[0]
	if got := shownIP(t, e, "alice", id); got != "" {
		t.Errorf("got public address %q after its script failed, want none", got)
	}
	if got := heldLaunchAddresses(t, e.svc); len(got) != 0 {
		t.Errorf("got launch addresses %v taken after the undo, want none", got)
	}
	fp.setFail("disassociate 192.0.2.10", true)
	other := launch(t, e, "alice")[0]
	if got := shownIP(t, e, "alice", other); got != "" {
		t.Errorf("got public address %q after its script failed, want none", got)
	}
	if got := heldLaunchAddresses(t, e.svc); got["192.0.2.10"] != other {
		t.Errorf("got launch addresses %v, want 192.0.2.10 kept by %s until its undo runs", got, other)
	}
	if in := eipIntents(t, e.svc); len(in) != 1 || !in[0].Failed || in[0].AllocationID != store.LaunchIntentKey("192.0.2.10") {
		t.Errorf("got intents %+v, want the failed undo of 192.0.2.10", in)
	}
	// Start-up's reconciliation re-runs it.
	fp.setFail("disassociate 192.0.2.10", false)
	reconcile(t, e.svc)
	if got := heldLaunchAddresses(t, e.svc); len(got) != 0 {
		t.Errorf("got launch addresses %v after the reconciliation, want none", got)
	}
}

// A stop while the launch address's association is still running: the
// association, once made, is undone, and the address is free again.
func TestStopWhileLaunchAddressIsWired(t *testing.T) {
	e, clock := launchPoolEnv(t, "192.0.2.10")
	fp := &fakeAddressProvider{}
	e.svc.Addresses = fp
	fp.block, fp.started = make(chan struct{}), make(chan struct{})
	launched := make(chan []string)
	go func() { launched <- launch(t, e, "alice") }()
	<-fp.started
	var id string
	for _, inst := range describe(t, e, "alice") {
		id = inst.InstanceID
	}
	clock.Advance(time.Minute)
	if _, err := e.call(t, "alice", "StopInstances", "InstanceId.1", id); err != nil {
		t.Fatal(err)
	}
	close(fp.block)
	<-launched
	if got, want := fp.takeCalls(), []string{"associate 192.0.2.10 " + id, "disassociate 192.0.2.10 " + id}; !eipEqualCalls(got, want) {
		t.Errorf("got calls %q, want the association undone: %q", got, want)
	}
	if got := heldLaunchAddresses(t, e.svc); len(got) != 0 {
		t.Errorf("got launch addresses %v taken, want none", got)
	}
	if in := eipIntents(t, e.svc); len(in) != 0 {
		t.Errorf("got intents %+v, want none", in)
	}
}

// Once the pool is full every launch that inherits its subnet's mapping
// meets it, inside the store's one committer: the warning is not written
// for each (at most once a minute, perhaps already by another test).
func TestLaunchAddressPoolExhaustedWarnsSeldom(t *testing.T) {
	e, _ := launchPoolEnv(t, "192.0.2.10")
	launch(t, e, "alice")
	var logged bytes.Buffer
	e.svc.Log = zerolog.New(&logged)
	for range 3 {
		launch(t, e, "bob")
	}
	if got := strings.Count(logged.String(), "launch address pool exhausted"); got > 1 {
		t.Errorf("got %d warnings for 3 launches with the pool exhausted, want at most 1:\n%s", got, logged.String())
	}
}
