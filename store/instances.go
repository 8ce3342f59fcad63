package store

import (
	"strings"
	"time"
)

// Instance is what econe-server knows of one instance, above the backend:
// who owns it, what was asked for, and the state last seen. The backend
// holds the machine itself, reachable by BackendID.
type Instance struct {
	// ID and Owner are the record's key (OWNER/ID): left out of the value
	// (older records have them) and filled in from the key when read.
	ID            string `json:"id,omitempty"`
	Owner         string `json:"owner,omitempty"`
	ReservationID string `json:"reservation_id"`
	BackendID     string `json:"backend_id"`
	// Replica is the replica launching the instance while BackendID is
	// "" (the launch's intent): the one waiting for the backend's answer
	// ("" on bbolt's one process, and once the answer is recorded).
	Replica      string `json:"replica,omitempty"`
	ImageID      string `json:"image_id"`
	InstanceType string `json:"instance_type"`
	// VCPUs is the instance type's at launch: what the owner's counters
	// and the usage ledger count for it whatever the template says later.
	VCPUs       int    `json:"vcpus,omitzero"`
	KeyName     string `json:"key_name,omitempty"`
	LaunchIndex int    `json:"launch_index,omitzero"`
	Zone        string `json:"zone"`
	ClientToken string `json:"client_token,omitempty"`
	// LaunchHash fingerprints the RunInstances parameters of a ClientToken
	// launch, to tell a retry from a reuse of the token: on the
	// reservation's first instance only (older records have it on each).
	LaunchHash string `json:"launch_hash,omitempty"`

	// State is the EC2 state name (pending, running, shutting-down,
	// terminated, stopping, stopped); StateChanged when it last changed.
	State        string    `json:"state"`
	StateChanged time.Time `json:"state_changed"`
	StateReason  string    `json:"state_reason,omitempty"` // e.g. "Client.UserInitiatedShutdown"
	// TransitionReason is EC2's free-text reason, e.g. "User initiated (2026-…)".
	TransitionReason string    `json:"transition_reason,omitempty"`
	LaunchTime       time.Time `json:"launch_time"`

	PrivateIP      string `json:"private_ip,omitempty"`
	PrivateDNSName string `json:"private_dns,omitempty"`
	// PublicIP is set while an elastic IP is associated (see addresses).
	PublicIP      string `json:"public_ip,omitempty"`
	PublicDNSName string `json:"public_dns,omitempty"`
	// LaunchIP is the public address the instance got at launch or start
	// (shown while no elastic IP is associated): one of the launch pool
	// (LaunchAddress), or the one the backend's own network gave it.
	LaunchIP string `json:"launch_ip,omitempty"`
	// PublicIPOnLaunch says the instance gets a launch address whenever it
	// starts: its subnet's MapPublicIpOnLaunch or the launch's
	// AssociatePublicIpAddress, decided at launch as EC2 decides it.
	PublicIPOnLaunch bool `json:"public_ip_on_launch,omitzero"`

	Groups []GroupRef `json:"groups,omitempty"`
	// VpcID and SubnetID place the instance (a subnet with instances
	// cannot be deleted, SubnetInUse).
	VpcID    string `json:"vpc_id,omitempty"`
	SubnetID string `json:"subnet_id,omitempty"`
	// InterfaceDescription is the description of the instance's primary
	// network interface (NetworkInterface.1.Description).
	InterfaceDescription string `json:"eni_description,omitempty"`
	// KeepInterface keeps the primary interface, detached, when the
	// instance terminates: its attachment's DeleteOnTermination is false.
	KeepInterface bool `json:"keep_eni,omitzero"`
	// UserData is the raw (decoded) user data; shown only to its owner via
	// DescribeInstanceAttribute and never logged.
	UserData []byte `json:"user_data,omitempty"`

	// ShutdownBehavior is stop (EC2's default: left out of the record) or
	// terminate.
	ShutdownBehavior      string `json:"shutdown_behavior,omitempty"`
	DisableAPITermination bool   `json:"disable_api_termination,omitzero"`

	RootDeviceName string `json:"root_device_name,omitempty"`
	// BaseImageID is the admin's image ImageID descends from (itself, or
	// the one a student's image was made from); "" in older records. The
	// record leaves it out when it is ImageID itself.
	BaseImageID string `json:"base_image_id,omitempty"`
	// BlockDevices is never stored: a volume's attachment is the one record
	// of it, and readers derive this view from the volumes (see
	// actions.withDevices). Records written before kept a copy; it is ignored.
	BlockDevices []BlockDevice `json:"-"`
	// Interfaces is never stored either: the student's network interfaces
	// attached to the instance, set by the same readers from the
	// interfaces' records (their attachment is the one record of it).
	Interfaces []*NetworkInterface `json:"-"`

	Options InstanceOptions `json:"options,omitzero"`
}

// GroupRef names a security group an instance is in.
type GroupRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// BlockDevice is a volume attached to an instance, as the instance shows it.
type BlockDevice struct {
	DeviceName          string    `json:"device"`
	VolumeID            string    `json:"volume_id"`
	Status              string    `json:"status"` // attaching | attached | detaching
	AttachTime          time.Time `json:"attach_time"`
	DeleteOnTermination bool      `json:"delete_on_termination"`
}

// GetInstance loads one of the user's instances; nil when absent (or not theirs).
func GetInstance(tx Tx, owner, id string) (*Instance, error) {
	return GetOwned[Instance](tx, BucketInstances, owner, id)
}

// GetInstances loads the user's instances ids in one read, in the ids'
// order; an absent one is nil. Records decoded before are copied from
// memory while their bytes are the same (instanceCache).
func GetInstances(tx Tx, owner string, ids []string) ([]*Instance, error) {
	return getManyOwned(tx, BucketInstances, owner, ids, instanceCache.decode)
}

// PutInstance stores one instance, and indexes it while it is a launch
// intent. Its state changes only through the instance transition
// (actions/transition.go), which also keeps the owner's counters and the
// usage ledger.
func PutInstance(tx Tx, inst *Instance) error {
	// What the key or a default says is not repeated (FromKey restores
	// it): an instance took 950 bytes, so five fitted in a page.
	rec := *inst
	rec.ID, rec.Owner = "", ""
	if rec.ShutdownBehavior == "stop" {
		rec.ShutdownBehavior = ""
	}
	if rec.BaseImageID == rec.ImageID {
		rec.BaseImageID = ""
	}
	if err := PutOwned(tx, BucketInstances, inst.Owner, inst.ID, &rec); err != nil {
		return err
	}
	if IsLaunchIntent(inst) {
		return tx.Put(BucketLaunchIntents, OwnedKey(inst.Owner, inst.ID), nil)
	}
	return nil
}

// FromKey fills in what PutInstance leaves out of the record at key.
// A record older than the launch options (no shutdown behavior) reads as
// launched with EC2's default, as its launch was.
func (inst *Instance) FromKey(key string) {
	inst.Owner, inst.ID, _ = strings.Cut(key, "/")
	if inst.ShutdownBehavior == "" {
		inst.ShutdownBehavior = "stop"
	}
	if inst.BaseImageID == "" {
		inst.BaseImageID = inst.ImageID
	}
}

// ListInstances returns all of the user's instances in id order.
func ListInstances(tx Tx, owner string) ([]*Instance, error) {
	return ListOwned[Instance](tx, BucketInstances, owner)
}

// InstanceOwners returns the owners of instances, in key order: a pass
// over every instance can then read one owner's at a time. Only the keys
// are read.
func InstanceOwners(tx Tx) ([]string, error) {
	var owners []string
	err := tx.Scan(BucketInstances, "", func(key string, _ []byte) error {
		if owner := ownerOf(key); len(owners) == 0 || owners[len(owners)-1] != owner {
			owners = append(owners, owner)
		}
		return nil
	})
	return owners, err
}

// IsLaunchIntent reports whether inst is recorded but has no answer from
// its backend yet: a launch in flight, or one a crash interrupted.
func IsLaunchIntent(inst *Instance) bool {
	return inst.BackendID == "" && inst.State != "terminated"
}

// DeleteLaunchIntent drops the index entry of the user's instance id, in
// the transaction that records its backend's answer (PutInstance adds
// it). An entry is a hint: recovery checks the instance it names.
func DeleteLaunchIntent(tx Tx, owner, id string) error {
	return tx.Delete(BucketLaunchIntents, OwnedKey(owner, id))
}

// ScanLaunchIntents calls fn with the owner and id of each indexed intent.
func ScanLaunchIntents(tx Tx, fn func(owner, id string) error) error {
	return tx.Scan(BucketLaunchIntents, "", func(key string, _ []byte) error {
		owner, id, _ := strings.Cut(key, "/")
		return fn(owner, id)
	})
}
