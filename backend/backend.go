// Package backend is the boundary between econe-server and the cloud that
// runs the machines. A backend knows machines, not students: ownership, EC2
// ids, quotas and the wire format all live above it, in actions and store.
//
// Contract for implementations:
//   - Run MUST return once the machine is accepted (normally State pending);
//     it MUST NOT block until boot finishes.
//   - Describe MUST report every id it is given; an id it does not know is
//     reported as terminated (a machine that vanished is gone for the user).
//     Describe of no ids is the readiness probe (actions never make it): a
//     backend in a remote cloud SHOULD ask the cloud something cheap.
//   - Terminate MUST be idempotent: terminating a terminated machine succeeds,
//     and so does terminating an unknown id (reported as terminated).
//   - Stop, Start and Reboot on a machine in the wrong state MUST return
//     ErrIncorrectState; on an unknown id ErrNotFound.
//   - A refusal the student should see as an EC2 error MUST be an *Error
//     with its EC2 code (RequestLimitExceeded when throttled,
//     InsufficientInstanceCapacity when full); any other error is an
//     internal error (HTTP 500, which old clients retry for minutes).
//   - State MUST survive a restart of econe-server: a machine pending when
//     the server stopped finishes booting after it starts again.
//   - Implementations MUST be safe for concurrent use.
//
// Extra abilities (volumes, security groups, key pairs, ...) are optional
// interfaces a backend MAY implement; Discover finds them once, and callers
// use the resulting Abilities.
package backend

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// State is an instance state, named as EC2 names them.
type State string

const (
	Pending      State = "pending"
	Running      State = "running"
	ShuttingDown State = "shutting-down"
	Terminated   State = "terminated"
	Stopping     State = "stopping"
	Stopped      State = "stopped"
)

// Code is EC2's numeric state code.
func (s State) Code() int {
	switch s {
	case Pending:
		return 0
	case Running:
		return 16
	case ShuttingDown:
		return 32
	case Terminated:
		return 48
	case Stopping:
		return 64
	case Stopped:
		return 80
	}
	return -1
}

// LaunchContext is everything a backend receives to start one machine: the
// instance type's template merged with what the student asked for. It is
// the contract for pluggable backends (documented in backend/README.md).
type LaunchContext struct {
	InstanceID   string            // EC2 id econe-server assigned (i-…)
	Owner        string            // user name
	InstanceType InstanceType      // the admin's template
	Image        Image             // the admin's image
	Zone         string            // availability zone
	KeyName      string            // "" when none
	PublicKey    string            // OpenSSH public key of KeyName
	UserData     []byte            // raw bytes, never logged
	Groups       []SecurityGroup   // with their rules
	Tags         map[string]string // instance tags at launch
	Volumes      []Volume          // root and extra block devices
	// ShutdownBehavior is what a guest-initiated shutdown does: stop | terminate.
	ShutdownBehavior string
	// Subnet places the machine's primary interface; a zero Subnet (a
	// caller that knows none) is the backend's own network.
	Subnet Subnet
	// PrivateIP is the address the student asked for in Subnet ("" for
	// any free one); a backend MUST refuse one in use with
	// InvalidIPAddress.InUse.
	PrivateIP string
	// Interface, when set, is the network interface (eni-…) that holds
	// PrivateIP through InterfaceAddresses: the machine uses that address
	// and the interface keeps holding it.
	Interface string
	// AssociatePublicIP is device 0's AssociatePublicIpAddress, nil when
	// the student did not send it. A backend whose own network gives
	// public addresses (ec2) SHOULD pass it on; the others ignore it
	// (econe-server gives launch addresses from its pool).
	AssociatePublicIP *bool
}

// Subnet is the subnet a machine is launched in.
type Subnet struct {
	ID    string
	VpcID string
	CIDR  string // IPv4; the first four addresses and the last are reserved, as on EC2
	// Shared says the subnet is in a default VPC, the course's network:
	// its addresses are unique among every student's machines. A
	// student's own VPC is a network of its own, whose addresses may
	// repeat another VPC's.
	Shared bool
}

// InstanceType is an admin template (see templates).
type InstanceType struct {
	Name         string
	VCPUs        int
	MemoryMiB    int
	Architecture string
	PricePerHour float64
	Settings     map[string]string // backend-specific, e.g. a QEMU machine type
}

// Image is an admin-registered image.
type Image struct {
	ID             string
	Name           string
	Architecture   string
	Platform       string
	RootDeviceName string
	RootDeviceType string // ebs | instance-store (no root volume is created)
	RootSizeGiB    int
	Mapping        map[string]string // backend-specific, e.g. a disk image path
}

// SecurityGroup is a group with its rules, for backends that enforce them.
type SecurityGroup struct {
	ID    string
	Name  string
	Rules []Rule
}

// Rule is one ingress or egress permission.
type Rule struct {
	Egress   bool
	Protocol string // tcp | udp | icmp | -1
	FromPort int
	ToPort   int
	CIDR     string // IPv4 or IPv6 range; "" when GroupID is set
	GroupID  string // source/destination group
	// PrefixListID is a prefix list (pl-…) peer; CIDR and GroupID are "".
	PrefixListID string
}

// Volume is a block device attached at launch.
type Volume struct {
	VolumeID   string
	Device     string
	SizeGiB    int
	SnapshotID string
	Root       bool
	// DeleteOnTermination is what the student asked: a backend that
	// deletes a machine's volumes with it MUST keep the others (actions
	// delete the marked ones after termination, so keeping all is safe).
	DeleteOnTermination bool
}

// Machine is a backend's view of one machine.
type Machine struct {
	ID        string // the backend's handle (stored as Instance.BackendID)
	State     State
	PrivateIP string
	// PrivateDNSName is the machine's private host name ("" when none).
	PrivateDNSName string
	// PublicIP is the public address the backend's own network gave the
	// machine ("" when none, or when the backend gives none: the sim).
	PublicIP string
	// Changed is when State was entered; Reason explains a state the user
	// did not ask for (e.g. a guest-initiated shutdown).
	Changed time.Time
	Reason  string
}

// Backend runs machines.
type Backend interface {
	Run(ctx context.Context, lc *LaunchContext) (Machine, error)
	Describe(ctx context.Context, ids []string) ([]Machine, error)
	Stop(ctx context.Context, id string, force bool) (Machine, error)
	Start(ctx context.Context, id string) (Machine, error)
	Reboot(ctx context.Context, id string) error
	Terminate(ctx context.Context, id string) (Machine, error)
	ConsoleOutput(ctx context.Context, id string) (string, error)
	Close() error
}

// LaunchFinder is an optional ability: finding the machine a Run for an
// EC2 instance id created. At start-up econe-server uses it to complete
// launches a crash interrupted between Run and recording its result;
// without it such launches are rolled back (marked terminated).
type LaunchFinder interface {
	FindLaunch(ctx context.Context, instanceID string) (m Machine, found bool, err error)
}

// Factory builds a backend from its settings.
type Factory func(deps Deps) (Backend, error)

// registry maps names to factories; registration is explicit (see
// backend/all) and refuses duplicates.
var (
	mu        sync.Mutex
	factories = map[string]Factory{}
)

// Register adds a backend factory under name; a duplicate name panics at
// start-up rather than silently replacing a backend.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[name]; dup {
		panic(fmt.Sprintf("backend: %q registered twice", name))
	}
	factories[name] = f
}

// New builds the named backend.
func New(name string, deps Deps) (Backend, error) {
	mu.Lock()
	f, ok := factories[name]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("backend: unknown backend %q (known: %v)", name, Names())
	}
	return f(deps)
}

// Names lists the registered backends.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(factories))
	for n := range factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
