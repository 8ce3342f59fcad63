package store

import (
	"errors"
	"time"
)

// Elastic addresses live in three buckets (see schema.go):
//   - addresses: OWNER/eipalloc-… -> Address, the truth about who holds what;
//   - address_pool: PUBLIC_IP -> "OWNER/eipalloc-…" or "" when free, the
//     configured pool, derived from addresses at start-up (SyncAddressPool);
//   - address_intents: eipalloc-… -> AddressIntent, an association or
//     disassociation whose scripts are in flight, or failed and pending
//     a re-run. An intent is written before any script runs, so a crash
//     leaves a record of what the network may be half-way through.

// Address is one allocated elastic IP.
type Address struct {
	AllocationID string    `json:"allocation_id"`
	Owner        string    `json:"owner"`
	PublicIP     string    `json:"public_ip"`
	Domain       string    `json:"domain"` // vpc | standard
	Allocated    time.Time `json:"allocated"`
	// Association is nil while the address is not associated.
	Association *AddressAssociation `json:"association,omitempty"`
	// Pending is a backend change in flight (its intent), with a backend
	// that holds addresses: AddressAllocating (PublicIP not yet known) or
	// AddressReleasing; "" when the backend has the address as recorded.
	Pending string `json:"pending,omitempty"`
}

// The backend changes an address's record may be waiting on.
const (
	AddressAllocating = "allocating"
	AddressReleasing  = "releasing"
)

// AddressAssociation is an address's binding to an instance (its
// primary interface), or to a network interface the student created
// (NetworkInterfaceID; InstanceID is then "": the interface may move).
type AddressAssociation struct {
	AssociationID      string `json:"association_id"`
	InstanceID         string `json:"instance_id"`
	NetworkInterfaceID string `json:"eni,omitempty"`
	PrivateIP          string `json:"private_ip"`
	Network            string `json:"network,omitempty"` // the instance's private network (CIDR), when known
}

// AddressBinding names one association completely: which address, bound
// how. Intents carry bindings so a script can be re-run from the record alone.
type AddressBinding struct {
	AllocationID string `json:"allocation_id"` // "" for a launch address
	PublicIP     string `json:"public_ip"`
	// Launch marks an instance's launch address (LaunchAddress), not an
	// elastic IP: its records change with the instance's state, and the
	// intent only wires it.
	Launch bool `json:"launch,omitzero"`
	AddressAssociation
}

// Target is what the association binds the address to: the interface,
// or the instance.
func (a AddressAssociation) Target() string {
	if a.NetworkInterfaceID != "" {
		return a.NetworkInterfaceID
	}
	return a.InstanceID
}

// Binding returns the address's current binding; ok is false when the
// address is not associated.
func (a *Address) Binding() (b AddressBinding, ok bool) {
	if a.Association == nil {
		return AddressBinding{}, false
	}
	return AddressBinding{AllocationID: a.AllocationID, PublicIP: a.PublicIP, AddressAssociation: *a.Association}, true
}

// AddressIntent is work on the network not yet reflected in the records:
// first every Undo binding is disassociated, then Target (if any) is
// associated. Failed marks an intent whose request has ended without
// finishing it; the next request touching it, or the next start-up, re-runs
// its disassociations.
type AddressIntent struct {
	Owner        string           `json:"owner"`
	AllocationID string           `json:"allocation_id"` // the key (LaunchIntentKey for a launch address)
	Undo         []AddressBinding `json:"undo,omitempty"`
	Target       *AddressBinding  `json:"target,omitempty"`
	Started      time.Time        `json:"started"`
	Failed       bool             `json:"failed,omitzero"`
	// Script is the process group of the script last started for the
	// intent: start-up kills what is left of it before undoing anything,
	// so a script a crash orphaned cannot redo what start-up undid.
	Script *ScriptProcess `json:"script,omitempty"`
	// Replica is the replica carrying the intent out, the one that
	// recorded or last claimed it ("" on bbolt's one process).
	Replica string `json:"replica,omitempty"`
}

// ScriptProcess names a script's process group: its id and the start time
// of its leader (clock ticks after boot), which tells it from a later
// process given the same number.
type ScriptProcess struct {
	PGID      int    `json:"pgid"`
	StartTime uint64 `json:"start_time"`
}

// Bindings returns every binding the intent touches: Undo, then Target.
func (in *AddressIntent) Bindings() []AddressBinding {
	out := append([]AddressBinding(nil), in.Undo...)
	if in.Target != nil {
		out = append(out, *in.Target)
	}
	return out
}

// Touches reports whether the intent involves the allocation or target,
// an instance or network interface ("" matches none).
func (in *AddressIntent) Touches(allocationID, target string) bool {
	if in.AllocationID == allocationID {
		return true
	}
	for _, b := range in.Bindings() {
		if b.AllocationID == allocationID || (target != "" && b.Target() == target) {
			return true
		}
	}
	return false
}

// GetAddress loads one of the user's addresses; nil when absent (or not theirs).
func GetAddress(tx Tx, owner, allocationID string) (*Address, error) {
	return GetOwned[Address](tx, BucketAddresses, owner, allocationID)
}

// PutAddress stores one address.
func PutAddress(tx Tx, a *Address) error {
	return counted(tx, BucketAddresses, a.Owner, a.AllocationID, a, countAddress)
}

// ListAddresses returns all of the user's addresses in allocation id order.
func ListAddresses(tx Tx, owner string) ([]*Address, error) {
	return ListOwned[Address](tx, BucketAddresses, owner)
}

// FindAddress returns the user's first address for which match is true; nil
// when none.
func FindAddress(tx Tx, owner string, match func(*Address) bool) (*Address, error) {
	all, err := ListAddresses(tx, owner)
	for _, a := range all {
		if match(a) {
			return a, err
		}
	}
	return nil, err
}

// Pool errors.
var (
	ErrPoolExhausted = errors.New("store: no free address in the pool")
	ErrNotInPool     = errors.New("store: address is not in the pool")
	ErrAddressTaken  = errors.New("store: address is already allocated")
)

// ClaimPoolAddress marks a free pool address as held by the allocation and
// returns it: want if set, else the first free one in key order.
func ClaimPoolAddress(tx Tx, want string, a *Address) (string, error) {
	holder := []byte(OwnedKey(a.Owner, a.AllocationID))
	if want != "" {
		switch v := tx.Get(BucketAddressPool, want); {
		case v == nil:
			return "", ErrNotInPool
		case len(v) > 0:
			return "", ErrAddressTaken
		}
		return want, tx.Put(BucketAddressPool, want, holder)
	}
	free := ""
	err := tx.Scan(BucketAddressPool, "", func(ip string, v []byte) error {
		if len(v) == 0 {
			free = ip
			return ErrStop
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if free == "" {
		return "", ErrPoolExhausted
	}
	return free, tx.Put(BucketAddressPool, free, holder)
}

// ReleaseAddress deletes the allocation and its tags and returns its
// address to the pool (unless the admin has since removed it from the pool).
func ReleaseAddress(tx Tx, a *Address) error {
	if err := counted[Address](tx, BucketAddresses, a.Owner, a.AllocationID, nil, countAddress); err != nil {
		return err
	}
	if tx.Get(BucketAddressPool, a.PublicIP) == nil {
		return nil
	}
	return tx.Put(BucketAddressPool, a.PublicIP, nil)
}

// SyncAddressPool makes the pool bucket hold exactly the configured
// addresses, each marked with its current holder from the addresses bucket.
// An allocated address the admin removed from the pool stays with its
// owner until released, and is then not handed out again.
func SyncAddressPool(tx Tx, configured []string) error {
	holders := map[string]string{}
	if err := ScanJSON(tx, BucketAddresses, "", func(key string, a *Address) error {
		holders[a.PublicIP] = key
		return nil
	}); err != nil {
		return err
	}
	want := make(map[string]bool, len(configured))
	for _, ip := range configured {
		want[ip] = true
		if err := tx.Put(BucketAddressPool, ip, []byte(holders[ip])); err != nil {
			return err
		}
	}
	var retired []string
	if err := tx.Scan(BucketAddressPool, "", func(ip string, _ []byte) error {
		if !want[ip] {
			retired = append(retired, ip)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, ip := range retired {
		if err := tx.Delete(BucketAddressPool, ip); err != nil {
			return err
		}
	}
	return nil
}

// PoolHolder returns who holds a pool address: "OWNER/eipalloc-…", "" when
// free; ok is false when the address is not in the pool.
func PoolHolder(tx Tx, ip string) (holder string, ok bool) {
	v := tx.Get(BucketAddressPool, ip)
	return string(v), v != nil
}

// GetAddressIntent loads the intent keyed by allocation id; nil when none.
func GetAddressIntent(tx Tx, allocationID string) (*AddressIntent, error) {
	in := new(AddressIntent)
	found, err := GetJSON(tx, BucketAddressIntents, allocationID, in)
	if err != nil || !found {
		return nil, err
	}
	return in, nil
}

// PutAddressIntent stores an intent under its allocation id.
func PutAddressIntent(tx Tx, in *AddressIntent) error {
	return PutJSON(tx, BucketAddressIntents, in.AllocationID, in)
}

// DeleteAddressIntent removes the intent (absent is fine).
func DeleteAddressIntent(tx Tx, allocationID string) error {
	return tx.Delete(BucketAddressIntents, allocationID)
}

// ListAddressIntents returns every intent, of every user, in key order.
func ListAddressIntents(tx Tx) ([]*AddressIntent, error) {
	var out []*AddressIntent
	err := ScanJSON(tx, BucketAddressIntents, "", func(_ string, in *AddressIntent) error {
		out = append(out, in)
		return nil
	})
	return out, err
}
