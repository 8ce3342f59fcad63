package actions

import (
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/elasticip"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// fakeAddressProvider records calls; fail makes a eipCall fail ("associate 203.0.113.10"),
// and block, when set, holds blockOp (associate when empty) until closed.
// Each call tells started of a made-up process, as scripts do.
type fakeAddressProvider struct {
	mu       sync.Mutex
	calls    []string
	fail     map[string]bool
	block    chan struct{} // when set, blockOp signals started and waits for it to close
	blockOp  string
	started  chan struct{}
	seen     []elasticip.Association
	running  int // calls in progress
	mostRun  int // the most calls ever in progress at once
	startErr []error
}

func (f *fakeAddressProvider) do(op string, a elasticip.Association, started elasticip.Started) error {
	f.mu.Lock()
	eipCall := op + " " + a.PublicIP + " " + a.InstanceID
	f.calls = append(f.calls, eipCall)
	f.seen = append(f.seen, a)
	failed, block := f.fail[op+" "+a.PublicIP], f.block
	f.running++
	f.mostRun = max(f.mostRun, f.running)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.running--; f.mu.Unlock() }()
	if started != nil {
		err := started(elasticip.Process{PGID: 4242, StartTime: 7})
		f.mu.Lock()
		f.startErr = append(f.startErr, err)
		f.mu.Unlock()
		if err != nil {
			return err
		}
	}
	if blockOp := cmp.Or(f.blockOp, "associate"); block != nil && op == blockOp {
		f.started <- struct{}{}
		<-block
	}
	if failed {
		return errors.New("script failed")
	}
	return nil
}

func (f *fakeAddressProvider) Associate(_ context.Context, a elasticip.Association, started elasticip.Started) error {
	return f.do("associate", a, started)
}

func (f *fakeAddressProvider) Disassociate(_ context.Context, a elasticip.Association, started elasticip.Started) error {
	return f.do("disassociate", a, started)
}

func (f *fakeAddressProvider) setFail(call string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string]bool{}
	}
	f.fail[call] = fail
}

func (f *fakeAddressProvider) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

func newAddressService(t *testing.T, pool ...string) (*Service, *fakeAddressProvider) {
	t.Helper()
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = pool
	fp := &fakeAddressProvider{}
	s := &Service{Config: cfg, Store: openTestStore(t), Addresses: fp, Log: zerolog.Nop()}
	reconcile(t, s)
	return s, fp
}

// reconcile runs start-up's reconciliation to the end.
func reconcile(t *testing.T, s *Service) {
	t.Helper()
	rec, err := s.ReconcileAddresses(context.Background(), AllOrphaned)
	if err != nil {
		t.Fatalf("got %v, want reconciliation to log script failures, not fail start-up", err)
	}
	<-rec.Done()
}

// eipCall runs one action as user with name=value parameters. Any name is
// a user: the address actions need no account id.
func eipCall(s *Service, user, action string, kv ...string) (any, error) {
	return eipCallVersion(s, user, DefaultVersion, action, kv...)
}

func eipCallVersion(s *Service, user, version, action string, kv ...string) (any, error) {
	return callAction(s, newRequest(&store.User{Name: user}, version, action, kv...))
}

func eipAllocate(t *testing.T, s *Service, user string) *allocateAddressResponse {
	t.Helper()
	resp, err := eipCall(s, user, "AllocateAddress")
	if err != nil {
		t.Fatalf("allocate for %s: %v", user, err)
	}
	return resp.(*allocateAddressResponse)
}

// eipAssociate associates alice's allocation with her instance and
// returns the association id.
func eipAssociate(t *testing.T, s *Service, allocationID, instanceID string) string {
	t.Helper()
	resp, err := eipCall(s, "alice", "AssociateAddress", "AllocationId", allocationID, "InstanceId", instanceID)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*associateAddressResponse).AssociationID
}

func eipPutInstance(t *testing.T, s *Service, owner, id, state, privateIP string) {
	t.Helper()
	err := s.Store.Update(func(tx store.Tx) error {
		return store.PutInstance(tx, &store.Instance{ID: id, Owner: owner, State: state, PrivateIP: privateIP})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func eipInstance(t *testing.T, s *Service, owner, id string) *store.Instance {
	t.Helper()
	var inst *store.Instance
	if err := s.Store.View(func(tx store.Tx) (err error) { inst, err = store.GetInstance(tx, owner, id); return err }); err != nil {
		t.Fatal(err)
	}
	return inst
}

func eipAddress(t *testing.T, s *Service, owner, id string) *store.Address {
	t.Helper()
	var a *store.Address
	if err := s.Store.View(func(tx store.Tx) (err error) { a, err = store.GetAddress(tx, owner, id); return err }); err != nil {
		t.Fatal(err)
	}
	return a
}

func eipIntents(t *testing.T, s *Service) []*store.AddressIntent {
	t.Helper()
	var out []*store.AddressIntent
	if err := s.Store.View(func(tx store.Tx) (err error) { out, err = store.ListAddressIntents(tx); return err }); err != nil {
		t.Fatal(err)
	}
	return out
}

func eipWantCode(t *testing.T, err error, code string) {
	t.Helper()
	if !ec2err.Is(err, code) {
		t.Fatalf("got error %v, want %s", err, code)
	}
}

func eipEqualCalls(got, want []string) bool {
	return strings.Join(got, "|") == strings.Join(want, "|")
}

const (
	eipInst1 = "i-0000000000000000a"
	eipInst2 = "i-0000000000000000b"
)

func TestAllocateAddress(t *testing.T) {
	cases := []struct {
		name     string
		pool     []string
		params   []string
		wantCode string
		wantText string
	}{
		{"no pool configured", nil, nil, ec2err.AddressLimitExceeded, "configured no elastic IP pool"},
		{"bad domain", []string{"203.0.113.10"}, []string{"Domain", "classic"}, ec2err.InvalidParameterValue, "vpc or standard"},
		{"tag for another resource type", []string{"203.0.113.10"}, []string{"TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "k"}, ec2err.InvalidParameterValue, "'instance' is not a valid taggable resource type"},
		{"reserved tag key", []string{"203.0.113.10"}, []string{"TagSpecification.1.ResourceType", "elastic-ip", "TagSpecification.1.Tag.1.Key", "aws:x"}, ec2err.InvalidParameterValue, "reserved"},
		{"address outside the pool", []string{"203.0.113.10"}, []string{"Address", "198.51.100.1"}, ec2err.InvalidAddressNotFound, "not available from this endpoint's elastic IP pool"},
		{"dry run", []string{"203.0.113.10"}, []string{"DryRun", "true"}, ec2err.DryRunOperation, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newAddressService(t, c.pool...)
			_, err := eipCall(s, "alice", "AllocateAddress", c.params...)
			eipWantCode(t, err, c.wantCode)
			if !strings.Contains(err.Error(), c.wantText) {
				t.Errorf("got message %q, want it to mention %q", err, c.wantText)
			}
		})
	}
}

// Asking for an address another student holds answers as for one outside
// the pool: the answer must not reveal that the address is taken.
func TestAllocateTakenAddressLooksAbsent(t *testing.T) {
	s, _ := newAddressService(t, "203.0.113.10", "203.0.113.11")
	if _, err := eipCall(s, "alice", "AllocateAddress", "Address", "203.0.113.10"); err != nil {
		t.Fatal(err)
	}
	answer := func(addr string) string {
		_, err := eipCall(s, "bob", "AllocateAddress", "Address", addr)
		var e *ec2err.Error
		if !errors.As(err, &e) {
			t.Fatalf("got %v for %s, want an EC2 error", err, addr)
		}
		return e.Code + ": " + strings.ReplaceAll(e.Message, addr, "ADDR")
	}
	if taken, outside := answer("203.0.113.10"), answer("198.51.100.1"); taken != outside {
		t.Errorf("got %q for a taken address, want the answer for one outside the pool: %q", taken, outside)
	}
}

func TestAllocateAddressDefaultsAndLimits(t *testing.T) {
	s, _ := newAddressService(t, "203.0.113.16/29")
	a := eipAllocate(t, s, "alice")
	if a.Domain != "vpc" || !store.ValidID("eipalloc", a.AllocationID) || !strings.HasPrefix(a.PublicIP, "203.0.113.") {
		t.Errorf("got %+v, want a vpc address from the pool with an eipalloc id", a)
	}
	for range *s.Config.Quota.MaxAddresses - 1 { // EC2's default, 5
		eipAllocate(t, s, "alice")
	}
	_, err := eipCall(s, "alice", "AllocateAddress")
	eipWantCode(t, err, ec2err.AddressLimitExceeded)
	// The /29 has 6 hosts: bob gets the last one, then the pool is empty.
	eipAllocate(t, s, "bob")
	_, err = eipCall(s, "bob", "AllocateAddress")
	eipWantCode(t, err, ec2err.AddressLimitExceeded)
	if !strings.Contains(err.Error(), "exhausted") {
		t.Errorf("got %q, want the message to say the pool is exhausted", err)
	}
}

func TestRacingForTheLastAddress(t *testing.T) {
	s, _ := newAddressService(t, "203.0.113.10")
	const racers = 8
	errs := make(chan error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := eipCall(s, fmt.Sprintf("student%d", i), "AllocateAddress")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case !ec2err.Is(err, ec2err.AddressLimitExceeded):
			t.Errorf("got %v, want AddressLimitExceeded for a loser", err)
		}
	}
	if wins != 1 {
		t.Errorf("got %d successful allocations of one address, want 1", wins)
	}
}

func TestAssociateDescribeDisassociate(t *testing.T) {
	s, fp := newAddressService(t, "203.0.113.10")
	a := eipAllocate(t, s, "alice")
	eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")

	assocID := eipAssociate(t, s, a.AllocationID, eipInst1)
	if !store.ValidID("eipassoc", assocID) {
		t.Errorf("got association id %q, want eipassoc-…", assocID)
	}
	want := elasticip.Association{PublicIP: "203.0.113.10", PrivateIP: "10.77.0.5", InstanceID: eipInst1, Owner: "alice",
		AllocationID: a.AllocationID, AssociationID: assocID, Network: "10.77.0.0/16"}
	if len(fp.seen) != 1 || fp.seen[0] != want {
		t.Errorf("got provider calls %+v, want one Associate with %+v", fp.seen, want)
	}
	if inst := eipInstance(t, s, "alice", eipInst1); inst.PublicIP != "203.0.113.10" || inst.PublicDNSName != "203.0.113.10" {
		t.Errorf("got instance public ip %q dns %q, want the elastic IP as both", inst.PublicIP, inst.PublicDNSName)
	}
	// Associating again with the same instance changes nothing.
	again, err := eipCall(s, "alice", "AssociateAddress", "PublicIp", "203.0.113.10", "InstanceId", eipInst1)
	if err != nil || again.(*associateAddressResponse).AssociationID != assocID {
		t.Errorf("got %v, %v re-associating with the same instance, want the same association %s", again, err, assocID)
	}

	cases := []struct {
		name    string
		filters []string
		want    int
	}{
		{"by instance", []string{"Filter.1.Name", "instance-id", "Filter.1.Value.1", eipInst1}, 1},
		{"by association", []string{"Filter.1.Name", "association-id", "Filter.1.Value.1", assocID}, 1},
		{"by private ip", []string{"Filter.1.Name", "private-ip-address", "Filter.1.Value.1", "10.77.0.*"}, 1},
		{"by domain", []string{"Filter.1.Name", "domain", "Filter.1.Value.1", "standard"}, 0},
		{"by public ip", []string{"PublicIp.1", "203.0.113.10"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := eipCall(s, "alice", "DescribeAddresses", c.filters...)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(resp.(*describeAddressesResponse).Addresses); got != c.want {
				t.Errorf("got %d addresses, want %d", got, c.want)
			}
		})
	}

	fp.takeCalls()
	if _, err := eipCall(s, "alice", "DisassociateAddress", "AssociationId", assocID); err != nil {
		t.Fatal(err)
	}
	if got := fp.takeCalls(); !eipEqualCalls(got, []string{"disassociate 203.0.113.10 " + eipInst1}) {
		t.Errorf("got calls %q, want one disassociate", got)
	}
	if inst := eipInstance(t, s, "alice", eipInst1); inst.PublicIP != "" || inst.PublicDNSName != "" {
		t.Errorf("got instance public ip %q dns %q after disassociation, want none", inst.PublicIP, inst.PublicDNSName)
	}
	if addr := eipAddress(t, s, "alice", a.AllocationID); addr.Association != nil {
		t.Errorf("got association %+v after disassociation, want none", addr.Association)
	}
	if len(eipIntents(t, s)) != 0 {
		t.Errorf("got eipIntents left over, want none")
	}
}

func TestAssociateErrors(t *testing.T) {
	s, _ := newAddressService(t, "203.0.113.10", "203.0.113.11")
	a := eipAllocate(t, s, "alice")
	b := eipAllocate(t, s, "bob")
	eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
	eipPutInstance(t, s, "alice", eipInst2, "pending", "")
	eipPutInstance(t, s, "bob", "i-0000000000000000c", "running", "10.77.0.6")
	cases := []struct {
		name   string
		params []string
		want   string
	}{
		{"neither address nor allocation", []string{"InstanceId", eipInst1}, ec2err.MissingParameter},
		{"both address and allocation", []string{"InstanceId", eipInst1, "AllocationId", a.AllocationID, "PublicIp", a.PublicIP}, ec2err.InvalidParameterCombination},
		{"malformed allocation", []string{"InstanceId", eipInst1, "AllocationId", "eipalloc-zz"}, ec2err.InvalidAllocationIDMalformed},
		{"malformed instance", []string{"InstanceId", "vm-1", "AllocationId", a.AllocationID}, ec2err.InvalidInstanceIDMalformed},
		{"no instance", []string{"AllocationId", a.AllocationID}, ec2err.MissingParameter},
		{"another student's allocation", []string{"InstanceId", eipInst1, "AllocationId", b.AllocationID}, ec2err.InvalidAllocationIDNotFound},
		{"another student's address", []string{"InstanceId", eipInst1, "PublicIp", b.PublicIP}, ec2err.InvalidAddressNotFound},
		{"another student's instance", []string{"InstanceId", "i-0000000000000000c", "AllocationId", a.AllocationID}, ec2err.InvalidInstanceIDNotFound},
		{"pending instance", []string{"InstanceId", eipInst2, "AllocationId", a.AllocationID}, ec2err.IncorrectInstanceState},
		{"wrong private address", []string{"InstanceId", eipInst1, "AllocationId", a.AllocationID, "PrivateIpAddress", "10.77.9.9"}, ec2err.InvalidParameterValue},
		{"malformed network interface", []string{"NetworkInterfaceId", "eni-1", "AllocationId", a.AllocationID}, ec2err.InvalidNetworkInterfaceIDMalformed},
		{"unknown network interface", []string{"NetworkInterfaceId", "eni-0123456789abcdef0", "AllocationId", a.AllocationID}, ec2err.InvalidNetworkInterfaceIDNotFound},
		{"dry run", []string{"InstanceId", eipInst1, "AllocationId", a.AllocationID, "DryRun", "true"}, ec2err.DryRunOperation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := eipCall(s, "alice", "AssociateAddress", c.params...)
			eipWantCode(t, err, c.want)
		})
	}
	if addr := eipAddress(t, s, "alice", a.AllocationID); addr.Association != nil {
		t.Errorf("got association %+v after only failed requests, want none", addr.Association)
	}
}

func TestReassociation(t *testing.T) {
	s, fp := newAddressService(t, "203.0.113.10")
	a := eipAllocate(t, s, "alice")
	eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
	eipPutInstance(t, s, "alice", eipInst2, "stopped", "10.77.0.6")
	eipAssociate(t, s, a.AllocationID, eipInst1)
	_, err := eipCall(s, "alice", "AssociateAddress", "AllocationId", a.AllocationID, "InstanceId", eipInst2)
	eipWantCode(t, err, ec2err.ResourceAlreadyAssociated)
	fp.takeCalls()
	if _, err := eipCall(s, "alice", "AssociateAddress", "AllocationId", a.AllocationID, "InstanceId", eipInst2, "AllowReassociation", "true"); err != nil {
		t.Fatal(err)
	}
	if got, want := fp.takeCalls(), []string{"disassociate 203.0.113.10 " + eipInst1, "associate 203.0.113.10 " + eipInst2}; !eipEqualCalls(got, want) {
		t.Errorf("got calls %q, want %q", got, want)
	}
	if i1, i2 := eipInstance(t, s, "alice", eipInst1), eipInstance(t, s, "alice", eipInst2); i1.PublicIP != "" || i2.PublicIP != "203.0.113.10" {
		t.Errorf("got public ips %q and %q, want the address moved to %s", i1.PublicIP, i2.PublicIP, eipInst2)
	}
}

func TestFailedScriptsLeaveNothingHalfDone(t *testing.T) {
	t.Run("association", func(t *testing.T) {
		s, fp := newAddressService(t, "203.0.113.10")
		a := eipAllocate(t, s, "alice")
		eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
		fp.setFail("associate 203.0.113.10", true)
		_, err := eipCall(s, "alice", "AssociateAddress", "AllocationId", a.AllocationID, "InstanceId", eipInst1)
		eipWantCode(t, err, ec2err.InternalError)
		if got, want := fp.takeCalls(), []string{"associate 203.0.113.10 " + eipInst1, "disassociate 203.0.113.10 " + eipInst1}; !eipEqualCalls(got, want) {
			t.Errorf("got calls %q, want the half-done association undone: %q", got, want)
		}
		if addr, inst := eipAddress(t, s, "alice", a.AllocationID), eipInstance(t, s, "alice", eipInst1); addr.Association != nil || inst.PublicIP != "" {
			t.Errorf("got association %+v, instance ip %q, want nothing recorded", addr.Association, inst.PublicIP)
		}
		if n := len(eipIntents(t, s)); n != 0 {
			t.Errorf("got %d eipIntents, want none", n)
		}
	})
	t.Run("reassociation", func(t *testing.T) {
		s, fp := newAddressService(t, "203.0.113.10")
		a := eipAllocate(t, s, "alice")
		eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
		eipPutInstance(t, s, "alice", eipInst2, "running", "10.77.0.6")
		eipAssociate(t, s, a.AllocationID, eipInst1)
		fp.setFail("associate 203.0.113.10", true)
		_, err := eipCall(s, "alice", "AssociateAddress", "AllocationId", a.AllocationID, "InstanceId", eipInst2, "AllowReassociation", "true")
		eipWantCode(t, err, ec2err.InternalError)
		// The old association is cleanly undone, never kept alongside a half-new one.
		i1, i2, addr := eipInstance(t, s, "alice", eipInst1), eipInstance(t, s, "alice", eipInst2), eipAddress(t, s, "alice", a.AllocationID)
		if i1.PublicIP != "" || i2.PublicIP != "" || addr.Association != nil {
			t.Errorf("got ips %q/%q, association %+v, want the address associated with neither", i1.PublicIP, i2.PublicIP, addr.Association)
		}
	})
	t.Run("disassociation is re-run by the retry", func(t *testing.T) {
		s, fp := newAddressService(t, "203.0.113.10")
		a := eipAllocate(t, s, "alice")
		eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
		assocID := eipAssociate(t, s, a.AllocationID, eipInst1)
		fp.setFail("disassociate 203.0.113.10", true)
		_, err := eipCall(s, "alice", "DisassociateAddress", "AssociationId", assocID)
		eipWantCode(t, err, ec2err.InternalError)
		if in := eipIntents(t, s); len(in) != 1 || !in[0].Failed {
			t.Fatalf("got eipIntents %+v, want one failed intent owing the disassociation", in)
		}
		_, err = eipCall(s, "alice", "ReleaseAddress", "AllocationId", a.AllocationID)
		eipWantCode(t, err, ec2err.InternalError) // the owed disassociation is tried first, and fails again
		fp.setFail("disassociate 203.0.113.10", false)
		fp.takeCalls()
		if _, err := eipCall(s, "alice", "DisassociateAddress", "AssociationId", assocID); err != nil {
			t.Fatalf("got %v retrying, want success", err)
		}
		if got := fp.takeCalls(); !eipEqualCalls(got, []string{"disassociate 203.0.113.10 " + eipInst1}) {
			t.Errorf("got calls %q, want the owed disassociation run once", got)
		}
		if n := len(eipIntents(t, s)); n != 0 || eipInstance(t, s, "alice", eipInst1).PublicIP != "" {
			t.Errorf("got %d eipIntents, want none and the instance without public ip", n)
		}
	})
}

func TestAssociationsAreSerialized(t *testing.T) {
	s, fp := newAddressService(t, "203.0.113.10")
	a := eipAllocate(t, s, "alice")
	eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
	eipPutInstance(t, s, "alice", eipInst2, "running", "10.77.0.6")
	fp.block, fp.started = make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := eipCall(s, "alice", "AssociateAddress", "AllocationId", a.AllocationID, "InstanceId", eipInst1)
		done <- err
	}()
	<-fp.started // its intent is recorded before the script runs
	cases := []struct {
		name   string
		action string
		params []string
	}{
		{"second association", "AssociateAddress", []string{"AllocationId", a.AllocationID, "InstanceId", eipInst2, "AllowReassociation", "true"}},
		{"disassociation", "DisassociateAddress", []string{"PublicIp", a.PublicIP}},
		{"release", "ReleaseAddress", []string{"AllocationId", a.AllocationID}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := eipCall(s, "alice", c.action, c.params...)
			eipWantCode(t, err, ec2err.IncorrectState)
		})
	}
	close(fp.block)
	if err := <-done; err != nil {
		t.Fatalf("got %v for the first association, want success", err)
	}
}

// TestReleaseAddress: in the default VPC, EC2's ReleaseAddress
// disassociates an associated address (running the script) and releases it.
func TestReleaseAddress(t *testing.T) {
	// Either way the address was associated once and disassociated once.
	wantCalls := []string{"associate 203.0.113.10 " + eipInst1, "disassociate 203.0.113.10 " + eipInst1}
	cases := []struct {
		name       string
		associated bool
	}{
		{"not associated", false},
		{"associated", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, fp := newAddressService(t, "203.0.113.10")
			a := eipAllocate(t, s, "alice")
			eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
			eipAssociate(t, s, a.AllocationID, eipInst1)
			if !c.associated {
				if _, err := eipCall(s, "alice", "DisassociateAddress", "PublicIp", a.PublicIP); err != nil {
					t.Fatal(err)
				}
			}
			_, err := eipCall(s, "bob", "ReleaseAddress", "PublicIp", a.PublicIP)
			eipWantCode(t, err, ec2err.InvalidAddressNotFound)
			_, err = eipCall(s, "alice", "ReleaseAddress", "AllocationId", a.AllocationID, "DryRun", "true")
			eipWantCode(t, err, ec2err.DryRunOperation)
			if _, err := eipCall(s, "alice", "ReleaseAddress", "AllocationId", a.AllocationID); err != nil {
				t.Fatalf("got %v, want the address released", err)
			}
			if !slices.Equal(fp.calls, wantCalls) {
				t.Errorf("got script calls %q, want %q", fp.calls, wantCalls)
			}
			_, err = eipCall(s, "alice", "DescribeAddresses", "AllocationId.1", a.AllocationID)
			eipWantCode(t, err, ec2err.InvalidAllocationIDNotFound)
			if b := eipAllocate(t, s, "bob"); b.PublicIP != a.PublicIP {
				t.Errorf("got %s for bob, want the released %s back from the pool", b.PublicIP, a.PublicIP)
			}
		})
	}
}

func TestTerminateDisassociatesAndStopKeeps(t *testing.T) {
	s, fp := newAddressService(t, "203.0.113.10")
	a := eipAllocate(t, s, "alice")
	eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
	eipAssociate(t, s, a.AllocationID, eipInst1)
	fp.takeCalls()
	r := &Request{Context: context.Background(), User: &store.User{Name: "alice"}, Params: query.New(url.Values{})}
	if err := s.releaseAddresses(r, []string{eipInst2}); err != nil || len(fp.takeCalls()) != 0 {
		t.Errorf("got %v terminating an instance without address, want no script run", err)
	}
	if err := s.releaseAddresses(r, []string{eipInst1}); err != nil {
		t.Fatal(err)
	}
	if got := fp.takeCalls(); !eipEqualCalls(got, []string{"disassociate 203.0.113.10 " + eipInst1}) {
		t.Errorf("got calls %q, want the disassociate script run", got)
	}
	if addr := eipAddress(t, s, "alice", a.AllocationID); addr == nil || addr.Association != nil {
		t.Errorf("got %+v, want the address kept, not associated", addr)
	}
}

func TestReconcileUndoesUnfinishedIntents(t *testing.T) {
	for _, failing := range []bool{false, true} {
		t.Run(fmt.Sprintf("scripts failing %v", failing), func(t *testing.T) {
			s, fp := newAddressService(t, "203.0.113.10", "203.0.113.11")
			a := eipAllocate(t, s, "alice")
			eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
			eipPutInstance(t, s, "alice", eipInst2, "running", "10.77.0.6")
			eipAssociate(t, s, a.AllocationID, eipInst1)
			// What a crash during a reassociation to eipInst2 leaves behind.
			addr := eipAddress(t, s, "alice", a.AllocationID)
			old, _ := addr.Binding()
			target := old
			target.AssociationID, target.InstanceID, target.PrivateIP = "eipassoc-0000000000000000f", eipInst2, "10.77.0.6"
			err := s.Store.Update(func(tx store.Tx) error {
				return store.PutAddressIntent(tx, &store.AddressIntent{Owner: "alice", AllocationID: a.AllocationID, Undo: []store.AddressBinding{old}, Target: &target})
			})
			if err != nil {
				t.Fatal(err)
			}
			fp.takeCalls()
			fp.setFail("disassociate 203.0.113.10", failing)
			reconcile(t, s)
			want := []string{"disassociate 203.0.113.10 " + eipInst1}
			if !failing {
				want = append(want, "disassociate 203.0.113.10 "+eipInst2)
			}
			if got := fp.takeCalls(); !eipEqualCalls(got, want) {
				t.Errorf("got calls %q, want %q", got, want)
			}
			in := eipIntents(t, s)
			if failing {
				if len(in) != 1 || !in[0].Failed || len(in[0].Undo) != 2 {
					t.Errorf("got eipIntents %+v, want one failed intent owing both disassociations", in)
				}
				return
			}
			if len(in) != 0 || eipInstance(t, s, "alice", eipInst1).PublicIP != "" || eipAddress(t, s, "alice", a.AllocationID).Association != nil {
				t.Errorf("got eipIntents %+v or an association left, want everything undone", in)
			}
		})
	}
}

func TestDescribeAddressesShapes(t *testing.T) {
	s, _ := newAddressService(t, "203.0.113.10")
	if _, err := eipCall(s, "alice", "AllocateAddress", "TagSpecification.1.ResourceType", "elastic-ip", "TagSpecification.1.Tag.1.Key", "Name", "TagSpecification.1.Tag.1.Value", "web"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		version string
		wantTag bool
	}{
		{"current API", DefaultVersion, true},
		{"boto 2 (2014-10-01)", "2014-10-01", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := eipCallVersion(s, "alice", c.version, "DescribeAddresses")
			if err != nil {
				t.Fatal(err)
			}
			raw, err := xml.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(raw), "<tagSet><item><key>Name</key><value>web</value></item></tagSet>"); got != c.wantTag {
				t.Errorf("got tagSet present %v in %s, want %v", got, raw, c.wantTag)
			}
			if !strings.Contains(string(raw), "<addressesSet><item><allocationId>") || !strings.Contains(string(raw), "<publicIp>203.0.113.10</publicIp></item></addressesSet>") {
				t.Errorf("got %s, want addressesSet/item with allocationId first and publicIp last", raw)
			}
		})
	}
	_, err := eipCall(s, "alice", "DescribeAddresses", "Filter.1.Name", "color", "Filter.1.Value.1", "x")
	eipWantCode(t, err, ec2err.InvalidParameterValue)
	_, err = eipCall(s, "bob", "DescribeAddresses", "PublicIp.1", "203.0.113.10")
	eipWantCode(t, err, ec2err.InvalidAddressNotFound)
}

// The intent names the running script's process group, for start-up to
// stop it after a crash; a failed intent names none (its script has ended).
func TestScriptProcessIsRecordedInIntent(t *testing.T) {
	s, fp := newAddressService(t, "203.0.113.10")
	a := eipAllocate(t, s, "alice")
	eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.0.5")
	fp.block, fp.started = make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := eipCall(s, "alice", "AssociateAddress", "AllocationId", a.AllocationID, "InstanceId", eipInst1)
		done <- err
	}()
	<-fp.started
	want := &store.ScriptProcess{PGID: 4242, StartTime: 7}
	if in := eipIntents(t, s); len(in) != 1 || in[0].Script == nil || *in[0].Script != *want {
		t.Errorf("got intents %+v while the script runs, want one naming its process %+v", in, want)
	}
	close(fp.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fp.block = nil
	fp.setFail("disassociate 203.0.113.10", true)
	_, err := eipCall(s, "alice", "DisassociateAddress", "PublicIp", a.PublicIP)
	eipWantCode(t, err, ec2err.InternalError)
	if in := eipIntents(t, s); len(in) != 1 || !in[0].Failed || in[0].Script != nil {
		t.Errorf("got intents %+v after a failed script, want one failed intent naming no process", in)
	}
}

// Start-up undoes leftover intents in the background, several at once but
// at most reconcileWorkers: their addresses stay locked meanwhile, failed
// intents included, and everything else works.
func TestReconcileServesWhileUndoing(t *testing.T) {
	const leftovers = reconcileWorkers + 3
	var pool []string
	for i := range leftovers + 1 {
		pool = append(pool, fmt.Sprintf("203.0.113.%d", 10+i))
	}
	s, fp := newAddressService(t, pool...)
	var allocs []*allocateAddressResponse
	for i := range leftovers {
		user := fmt.Sprintf("student%d", i)
		a := eipAllocate(t, s, user)
		allocs = append(allocs, a)
		inst := fmt.Sprintf("i-00000000000000%03d", i)
		eipPutInstance(t, s, user, inst, "running", fmt.Sprintf("10.77.0.%d", 10+i))
		b := store.AddressBinding{AllocationID: a.AllocationID, PublicIP: a.PublicIP, AddressAssociation: store.AddressAssociation{
			AssociationID: fmt.Sprintf("eipassoc-00000000000000%03d", i), InstanceID: inst, PrivateIP: fmt.Sprintf("10.77.0.%d", 10+i)}}
		err := s.Store.Update(func(tx store.Tx) error {
			if err := setBinding(tx, user, b); err != nil {
				return err
			}
			// What a crash (or, for the first, a failed script) leaves behind.
			return store.PutAddressIntent(tx, &store.AddressIntent{Owner: user, AllocationID: a.AllocationID, Undo: []store.AddressBinding{b}, Failed: i == 0})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	eipPutInstance(t, s, "alice", eipInst1, "running", "10.77.1.5")
	fp.takeCalls()
	fp.block, fp.blockOp, fp.started = make(chan struct{}), "disassociate", make(chan struct{}, leftovers)

	rec, err := s.ReconcileAddresses(context.Background(), AllOrphaned)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Pending != leftovers {
		t.Errorf("got %d pending, want %d", rec.Pending, leftovers)
	}
	for i := range reconcileWorkers {
		select { // all of the first reconcileWorkers run at once
		case <-fp.started:
		case <-time.After(20 * time.Second):
			t.Fatalf("got %d disassociations running at once, want %d", i, reconcileWorkers)
		}
	}
	cases := []struct {
		name   string
		user   string
		action string
		params []string
	}{
		{"associate an address being undone", "student1", "AssociateAddress", []string{"AllocationId", allocs[1].AllocationID, "InstanceId", "i-00000000000000001", "AllowReassociation", "true"}},
		{"disassociate an address being undone", "student2", "DisassociateAddress", []string{"PublicIp", allocs[2].PublicIP}},
		{"re-run a failed intent being undone", "student0", "DisassociateAddress", []string{"PublicIp", allocs[0].PublicIP}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := eipCall(s, c.user, c.action, c.params...)
			eipWantCode(t, err, ec2err.IncorrectState)
		})
	}
	free := eipAllocate(t, s, "alice")
	if _, err := eipCall(s, "alice", "AssociateAddress", "AllocationId", free.AllocationID, "InstanceId", eipInst1); err != nil {
		t.Errorf("got %v associating an unrelated address during reconciliation, want success", err)
	}
	close(fp.block)
	<-rec.Done()
	if fp.mostRun > reconcileWorkers+1 { // + the unrelated association
		t.Errorf("got %d scripts at once, want at most %d", fp.mostRun, reconcileWorkers+1)
	}
	if in := eipIntents(t, s); len(in) != 0 {
		t.Errorf("got intents %+v after reconciliation, want none", in)
	}
	for i, a := range allocs {
		if addr := eipAddress(t, s, fmt.Sprintf("student%d", i), a.AllocationID); addr.Association != nil {
			t.Errorf("got %s still associated %+v, want it undone", a.PublicIP, addr.Association)
		}
	}
}

// An instance terminated while its association is being made must not end
// up holding the address: TerminateInstances released its addresses before
// the association was recorded.
func TestTerminateDuringAssociation(t *testing.T) {
	cfg := conf.Default()
	cfg.ElasticIPs.Pool = []string{"203.0.113.10"}
	cfg.ElasticIPs.LaunchPool = nil // only the elastic IP's scripts run
	e, clock, _ := newInstanceEnv(t, cfg)
	fp := &fakeAddressProvider{}
	e.svc.Addresses = fp
	reconcile(t, e.svc)
	id := launch(t, e, "alice")[0]
	clock.Advance(time.Minute)
	if got := stateOf(t, e, "alice", id); got != "running" {
		t.Fatalf("got %s, want running", got)
	}
	a := e.mustCall(t, "alice", "AllocateAddress").(*allocateAddressResponse)
	fp.block, fp.started = make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := e.call(t, "alice", "AssociateAddress", "AllocationId", a.AllocationID, "InstanceId", id)
		done <- err
	}()
	<-fp.started
	e.mustCall(t, "alice", "TerminateInstances", "InstanceId.1", id)
	close(fp.block)
	err := <-done
	wantCode(t, err, ec2err.IncorrectInstanceState)
	if got, want := fp.takeCalls(), []string{"associate 203.0.113.10 " + id, "disassociate 203.0.113.10 " + id}; !eipEqualCalls(got, want) {
		t.Errorf("got calls %q, want the association undone on the network: %q", got, want)
	}
	if addr := eipAddress(t, e.svc, "alice", a.AllocationID); addr.Association != nil {
		t.Errorf("got the address associated %+v with the terminated instance, want not associated", addr.Association)
	}
	if inst := eipInstance(t, e.svc, "alice", id); inst.PublicIP != "" {
		t.Errorf("got public IP %q on the terminated instance, want none", inst.PublicIP)
	}
	if in := eipIntents(t, e.svc); len(in) != 0 {
		t.Errorf("got intents %+v, want none", in)
	}
}
