package backend

import (
	"context"

	"github.com/econe/econe-server/store"
)

// Abilities is a backend with its optional abilities found once, when the
// service is assembled (Discover): a nil field is an ability the backend
// lacks. Callers use the fields, never a type assertion of their own, so
// that a wrapper (metrics, rate limits) cannot hide an ability by not
// having its methods: a wrapper takes the Abilities of the backend it
// wraps and wraps each non-nil field, leaving nil ones nil.
type Abilities struct {
	Backend
	TxLauncher     TxLauncher
	Finder         LaunchFinder
	Volumes        Volumes
	SecurityGroups SecurityGroups
	KeyPairs       KeyPairs
	Addresses      Addresses
	Settings       InstanceSettings
	Images         Images
	Network        Network
	Interfaces     InterfaceAddresses
	Settled        SettledStates
}

// Discover finds b's optional abilities. Given Abilities (a wrapper's, passed
// on as a Backend) it returns them unchanged rather than losing them.
func Discover(b Backend) Abilities {
	if a, ok := b.(Abilities); ok {
		return a
	}
	a := Abilities{Backend: b}
	a.TxLauncher, _ = b.(TxLauncher)
	a.Finder, _ = b.(LaunchFinder)
	a.Volumes, _ = b.(Volumes)
	a.SecurityGroups, _ = b.(SecurityGroups)
	a.KeyPairs, _ = b.(KeyPairs)
	a.Addresses, _ = b.(Addresses)
	a.Settings, _ = b.(InstanceSettings)
	a.Images, _ = b.(Images)
	a.Network, _ = b.(Network)
	a.Interfaces, _ = b.(InterfaceAddresses)
	a.Settled, _ = b.(SettledStates)
	return a
}

// SettledStates is the optional ability of a backend whose machines stay
// in some states until one of its calls (Stop, Start, Reboot, Terminate)
// moves them: neither time (a boot, a shutdown) nor a guest or an operator
// does. The sim has it: its machines are records, and only its
// transitional states move on with the clock. The describes then show an
// instance recorded in such a state as recorded, without asking: every
// call's outcome is recorded through the transition, and one whose record
// failed is found by the next action on the instance (actions always ask)
// or by the usage reconciliation (which asks about every machine, at
// start-up too). Settled MUST be false for a state a machine can leave
// otherwise.
type SettledStates interface {
	Settled(st State) bool
}

// SecurityGroups is the optional ability to hold a student's security
// groups in the cloud (real EC2 does; the sim enforces nothing and lacks
// it). econe-server keeps the groups and rules in its store and calls
// these outside any transaction, with the change recorded as an intent
// first; at start-up it asks again for a change a crash interrupted, so:
//   - every call MUST be idempotent: creating a group it has, authorizing
//     a rule it has, revoking a rule or deleting a group it does not have
//     all succeed;
//   - groups are named by the ids econe-server assigned (sg-…), also in
//     Rule.GroupID; the backend maps them to its own;
//   - a group named in LaunchContext.Groups may never have been created
//     through CreateGroup (the student's default group is made implicitly):
//     a backend that needs it there creates it at Run.
type SecurityGroups interface {
	CreateGroup(ctx context.Context, g GroupSpec) error
	DeleteGroup(ctx context.Context, groupID string) error
	Authorize(ctx context.Context, groupID string, rules []Rule) error
	Revoke(ctx context.Context, groupID string, rules []Rule) error
}

// GroupSpec is a group to create (its rules follow through Authorize).
type GroupSpec struct {
	GroupID     string // EC2 id econe-server assigned (sg-…)
	Owner       string // user name, for the cloud's labels and namespacing
	Name        string // the name the student chose, unique per owner only
	Description string
}

// KeyPairs is the optional ability to hold students' public keys in the
// cloud (real EC2 does; the sim injects LaunchContext.PublicKey and lacks
// it). Only public keys ever reach a backend. As for SecurityGroups, calls
// come outside transactions after an intent and are repeated after a
// crash: ImportKey of a key it has and DeleteKey of one it does not have
// MUST succeed.
type KeyPairs interface {
	ImportKey(ctx context.Context, k KeySpec) error
	DeleteKey(ctx context.Context, keyID string) error
}

// KeySpec is a public key to import.
type KeySpec struct {
	KeyID     string // EC2 id econe-server assigned (key-…)
	Owner     string // user name
	Name      string // the name the student chose, unique per owner only
	PublicKey string // OpenSSH authorized_keys line
}

// Addresses is the optional ability to hold elastic IPs in the cloud (real
// EC2 does). When a backend has it, its addresses are the students'
// elastic IPs, preferred over the configured pool and scripts; the
// student's quota still applies. As for SecurityGroups, calls come
// outside transactions after an intent and are repeated after a crash,
// so every call MUST be idempotent: allocating an id it has returns that
// address, releasing or disassociating one it does not have succeeds.
type Addresses interface {
	// AllocateAddress returns the public IPv4 address allocated for a.
	AllocateAddress(ctx context.Context, a AddressSpec) (publicIP string, err error)
	ReleaseAddress(ctx context.Context, allocationID string) error
	// AssociateAddress binds the address to a machine (Machine.ID),
	// taking it from any other machine it was bound to.
	AssociateAddress(ctx context.Context, allocationID, machineID string) error
	DisassociateAddress(ctx context.Context, allocationID string) error
}

// AddressSpec is an elastic IP to allocate.
type AddressSpec struct {
	AllocationID string // EC2 id econe-server assigned (eipalloc-…)
	Owner        string // user name, for the cloud's labels
	PublicIP     string // the address asked for; "" for any
}

// InstanceSettings is the optional ability to apply the settings of a
// machine that the cloud enforces after launch: its security groups,
// source/destination check, EBS optimization, detailed monitoring, CPU
// credits, metadata service, kernel and RAM disk. econe-server records
// them; without this ability it refuses to change them (and to launch
// with other than EC2's defaults), since the record would then claim what
// the machine does not do. The sim has it: its machines are records, and
// nothing there enforces these. ApplySettings is given the whole set of
// settings each time, so it MUST be idempotent; an unknown machine is
// ErrNotFound.
type InstanceSettings interface {
	ApplySettings(ctx context.Context, machineID string, s MachineSettings) error
}

// MachineSettings are a machine's settings as the student set them.
type MachineSettings struct {
	Groups  []string // security group ids econe-server assigned (sg-…)
	Options store.InstanceOptions
}
