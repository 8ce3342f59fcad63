package store

import (
	"strings"
	"time"
)

// NetworkInterface is a network interface a student created
// (CreateNetworkInterface), keyed OWNER/eni-… like every owned resource.
// An instance's own primary interface is not one: it is derived from the
// instance (actions/instances_network.go). The index
// interface_attachments (OWNER/i-…/eni-…), kept by Put and Delete, finds
// the interfaces attached to an instance.
type NetworkInterface struct {
	ID         string `json:"id"`
	Owner      string `json:"owner"`
	SubnetID   string `json:"subnet_id"`
	VpcID      string `json:"vpc_id"`
	Zone       string `json:"zone"`
	PrivateIP  string `json:"private_ip"`
	PrivateDNS string `json:"private_dns,omitempty"`
	// PublicIP is set while an elastic IP is associated with it.
	PublicIP    string     `json:"public_ip,omitempty"`
	MAC         string     `json:"mac"`
	Description string     `json:"description,omitempty"`
	Groups      []GroupRef `json:"groups,omitempty"`
	// NoSourceDestCheck is sourceDestCheck false (EC2's default is true).
	NoSourceDestCheck bool      `json:"no_source_dest_check,omitempty"`
	Created           time.Time `json:"created"`
	// Attachment is nil while the interface is available.
	Attachment *InterfaceAttachment `json:"attachment,omitempty"`
}

// InterfaceAttachment binds an interface to an instance at a device index.
// The interface is detached when its instance terminates (EC2's default
// for an interface attached after it was made), or deleted when
// DeleteOnTermination (ModifyNetworkInterfaceAttribute).
type InterfaceAttachment struct {
	ID                  string    `json:"id"` // eni-attach-…
	InstanceID          string    `json:"instance_id"`
	DeviceIndex         int       `json:"device_index"`
	AttachTime          time.Time `json:"attach_time"`
	DeleteOnTermination bool      `json:"delete_on_termination,omitempty"`
}

// GetNetworkInterface loads one of the owner's interfaces; nil when absent.
func GetNetworkInterface(tx Tx, owner, id string) (*NetworkInterface, error) {
	return GetOwned[NetworkInterface](tx, BucketNetworkInterfaces, owner, id)
}

// PutNetworkInterface stores an interface, counted for the owner, and
// moves its index entry to the instance it is attached to now.
func PutNetworkInterface(tx Tx, ni *NetworkInterface) error {
	if err := indexInterface(tx, ni.Owner, ni.ID, ni); err != nil {
		return err
	}
	return counted(tx, BucketNetworkInterfaces, ni.Owner, ni.ID, ni, countNetworkInterface)
}

// DeleteNetworkInterface removes an interface, its tags and its index entry.
func DeleteNetworkInterface(tx Tx, owner, id string) error {
	if err := indexInterface(tx, owner, id, nil); err != nil {
		return err
	}
	return counted[NetworkInterface](tx, BucketNetworkInterfaces, owner, id, nil, countNetworkInterface)
}

func countNetworkInterface(ni *NetworkInterface) Counters {
	return present(ni, Counters{NetworkInterfaces: 1})
}

func indexInterface(tx Tx, owner, id string, ni *NetworkInterface) error {
	old, err := GetNetworkInterface(tx, owner, id)
	if err != nil {
		return err
	}
	was, now := interfaceInstance(old), interfaceInstance(ni)
	if was != "" && was != now {
		if err := tx.Delete(BucketInterfaceAttachments, attachmentKey(owner, was, id)); err != nil {
			return err
		}
	}
	if now != "" && now != was {
		return tx.Put(BucketInterfaceAttachments, attachmentKey(owner, now, id), nil)
	}
	return nil
}

func interfaceInstance(ni *NetworkInterface) string {
	if ni == nil || ni.Attachment == nil {
		return ""
	}
	return ni.Attachment.InstanceID
}

// ListNetworkInterfaces returns the owner's interfaces in id order.
func ListNetworkInterfaces(tx Tx, owner string) ([]*NetworkInterface, error) {
	return ListOwned[NetworkInterface](tx, BucketNetworkInterfaces, owner)
}

// ListInterfacesOn returns the owner's interfaces attached to the
// instances (through the index), by instance and then interface id.
func ListInterfacesOn(tx Tx, owner string, instanceIDs []string) ([]*NetworkInterface, error) {
	var ids []string
	for _, inst := range instanceIDs {
		prefix := InterfacesOnRef(owner, inst).Key
		if err := tx.Scan(BucketInterfaceAttachments, prefix, func(key string, _ []byte) error {
			ids = append(ids, strings.TrimPrefix(key, prefix))
			return nil
		}); err != nil {
			return nil, err
		}
	}
	nis, err := GetManyOwned[NetworkInterface](tx, BucketNetworkInterfaces, owner, ids)
	if err != nil {
		return nil, err
	}
	out := nis[:0]
	for _, ni := range nis {
		if ni != nil {
			out = append(out, ni)
		}
	}
	return out, nil
}

// InterfacesOnRef names what ListInterfacesOn reads for the instance (the
// index keys and the interfaces they name), for Prefetch.
func InterfacesOnRef(owner, instanceID string) Ref {
	return IndexRef(BucketInterfaceAttachments, OwnedKey(owner, instanceID)+"/", BucketNetworkInterfaces, OwnerPrefix(owner))
}
