package actions

import (
	"context"
	"fmt"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/elasticip"
	"github.com/econe/econe-server/store"
)

// Elastic IPs on a backend with the Addresses ability (real EC2) are the
// cloud's addresses: allocation and release follow the key pairs'
// pattern (the record with its intent, Address.Pending, then the backend
// outside any transaction, then its answer; RecoverAddresses finishes an
// intent a crash left), and associations go through the one path of
// addresses.go with the backend as the provider, preferred over the
// configured pool and scripts. The student's quota applies as ever: the
// pending record is the reservation.

// provider makes associations real: the backend when it holds addresses,
// else the configured provider (scripts, or records only).
func (s *Service) provider() elasticip.Provider {
	if s.Backend.Addresses != nil {
		return backendAddresses{s}
	}
	return s.Addresses
}

// backendAddresses is the elasticip.Provider of a backend with the
// Addresses ability; it runs no process, so started is never told.
type backendAddresses struct{ s *Service }

func (p backendAddresses) Associate(ctx context.Context, a elasticip.Association, _ elasticip.Started) error {
	var machineID string
	err := p.s.Store.View(func(tx store.Tx) error {
		inst, err := store.GetInstance(tx, a.Owner, a.InstanceID)
		if inst != nil {
			machineID = inst.BackendID
		}
		return err
	})
	if err == nil && machineID == "" {
		err = fmt.Errorf("instance %s has no machine in the backend", a.InstanceID)
	}
	if err != nil {
		return err
	}
	return p.s.Backend.Addresses.AssociateAddress(ctx, a.AllocationID, machineID)
}

func (p backendAddresses) Disassociate(ctx context.Context, a elasticip.Association, _ elasticip.Started) error {
	return p.s.Backend.Addresses.DisassociateAddress(ctx, a.AllocationID)
}

// addressInBackend makes a's pending allocation or release in the backend
// and records the answer: an allocation gets its public IP (refused, the
// record goes), a release removes the record (refused, it stays); either
// way a refusal is returned with its EC2 code.
func (s *Service) addressInBackend(ctx context.Context, a *store.Address) (*store.Address, error) {
	ab := s.Backend.Addresses
	if ab == nil || a.Pending == "" {
		return a, nil
	}
	var ip string
	var berr error
	if a.Pending == store.AddressAllocating {
		ip, berr = ab.AllocateAddress(ctx, backend.AddressSpec{AllocationID: a.AllocationID, Owner: a.Owner, PublicIP: a.PublicIP})
	} else {
		berr = ab.ReleaseAddress(ctx, a.AllocationID)
	}
	var out *store.Address
	err := s.Store.Update(func(tx store.Tx) error {
		out = nil
		cur, err := store.GetAddress(tx, a.Owner, a.AllocationID)
		if err != nil || cur == nil || cur.Pending != a.Pending {
			return err
		}
		if (berr == nil) == (cur.Pending == store.AddressReleasing) {
			return store.ReleaseAddress(tx, cur)
		}
		if cur.Pending == store.AddressAllocating {
			cur.PublicIP = ip
		}
		cur.Pending, out = "", cur
		return store.PutAddress(tx, cur)
	})
	if berr != nil {
		return nil, backendError(berr, refusals{})
	}
	return out, err
}

// RecoverAddresses finishes the allocations and releases a crash left
// between the intent and the backend's answer. app.Open calls it before
// serving; a change the backend still refuses is logged (an allocation
// refused is dropped, a release refused kept).
func (s *Service) RecoverAddresses(ctx context.Context) error {
	if s.Backend.Addresses == nil {
		return nil
	}
	var pending []*store.Address
	err := s.Store.View(func(tx store.Tx) error {
		pending = nil
		return store.ScanJSON(tx, store.BucketAddresses, "", func(_ string, a *store.Address) error {
			if a.Pending != "" {
				pending = append(pending, a)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, a := range pending {
		if _, err := s.addressInBackend(ctx, a); err != nil {
			s.Log.Error().Err(err).Str("allocation_id", a.AllocationID).Str("pending", a.Pending).Msg("an elastic IP change interrupted by a restart could not be finished")
		}
	}
	return nil
}
