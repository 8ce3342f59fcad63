package actions

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// recordingAddresses is a backend's Addresses ability that records its
// calls and refuses the allocations of an owner in refuse with that code.
type recordingAddresses struct {
	mu     sync.Mutex
	calls  []string
	refuse map[string]string
}

func (a *recordingAddresses) answer(call, owner string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, call)
	if code := a.refuse[owner]; code != "" {
		return &backend.Error{Code: code, Message: "refused"}
	}
	return nil
}

func (a *recordingAddresses) AllocateAddress(ctx context.Context, s backend.AddressSpec) (string, error) {
	return "198.51.100.7", a.answer("allocate "+s.Owner, s.Owner)
}
func (a *recordingAddresses) ReleaseAddress(ctx context.Context, id string) error {
	return a.answer("release", "")
}
func (a *recordingAddresses) AssociateAddress(ctx context.Context, id, machineID string) error {
	return a.answer("associate", "")
}
func (a *recordingAddresses) DisassociateAddress(ctx context.Context, id string) error {
	return a.answer("disassociate", "")
}

func (a *recordingAddresses) took() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := strings.Join(a.calls, "; ")
	a.calls = nil
	return out
}

// On a backend that holds addresses, an allocation is the backend's
// address, with no pool configured; the quota refuses before the backend
// is asked; a refusal reaches the student with its code and leaves no
// record; a release reaches the backend and removes the record.
func TestAddressesInBackend(t *testing.T) {
	cfg := conf.Default()
	cfg.Quota.MaxAddresses = quota.Int(1)
	e := newTestEnv(t, cfg)
	ab := &recordingAddresses{refuse: map[string]string{"bob": ec2err.AddressLimitExceeded}}
	e.svc.Backend = backend.Abilities{Addresses: ab}

	resp := e.mustCall(t, "alice", "AllocateAddress").(*allocateAddressResponse)
	_, quotaErr := e.call(t, "alice", "AllocateAddress")
	afterQuota := ab.took()
	_, refusedErr := e.call(t, "bob", "AllocateAddress")
	ab.took()
	var bobs []*store.Address
	e.svc.Store.View(func(tx store.Tx) (err error) {
		bobs, err = store.ListAddresses(tx, "bob")
		return err
	})
	e.mustCall(t, "alice", "ReleaseAddress", "AllocationId", resp.AllocationID)
	cases := []struct {
		name      string
		got, want any
	}{
		{"allocated address", resp.PublicIP, "198.51.100.7"},
		{"backend calls up to the quota refusal", afterQuota, "allocate alice"},
		{"quota refusal", ec2err.Is(quotaErr, ec2err.AddressLimitExceeded), true},
		{"backend refusal", ec2err.Is(refusedErr, ec2err.AddressLimitExceeded), true},
		{"records of a refused allocation", len(bobs), 0},
		{"release", ab.took(), "release"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	e.svc.Store.View(func(tx store.Tx) error {
		if a, _ := store.GetAddress(tx, "alice", resp.AllocationID); a != nil {
			t.Errorf("a released address is still recorded: %+v", a)
		}
		return nil
	})
}
