package store

import (
	"maps"
	"slices"
	"time"
)

// Image states, as EC2 names them. A deregistered image is deleted.
const (
	ImagePending   = "pending"
	ImageAvailable = "available"
)

// Image is an AMI a student made from one of their instances (CreateImage),
// copied from another image (CopyImage) or registered from snapshots
// (RegisterImage). The admin's images live in templates, not here.
type Image struct {
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	OwnerAccount string `json:"owner_account"` // the owner's account id, shown as imageOwnerId
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	// SourceInstanceID is the instance it was made from; BaseImageID the
	// admin's image at the root of its lineage (architecture, platform, the
	// backend's mapping, the course's allowed images).
	SourceInstanceID string `json:"source_instance_id"`
	// SourceImageID and SourceRegion name the image CopyImage copied.
	SourceImageID string `json:"source_image_id,omitempty"`
	SourceRegion  string `json:"source_region,omitempty"`
	// A registered image's BaseImageID is the course's image of its
	// architecture, or "" when there is none; its Architecture is what
	// RegisterImage was told ("" for the others: their base's).
	BaseImageID    string        `json:"base_image_id"`
	Architecture   string        `json:"architecture,omitempty"`
	RootDeviceName string        `json:"root_device_name"`
	Devices        []ImageDevice `json:"devices"`
	Created        time.Time     `json:"created"`
	State          string        `json:"state"` // pending until Until, then available
	Until          time.Time     `json:"until"`
	// LaunchAccounts are the account ids the owner shared it with
	// (launchPermission), sorted; each has an entry in shares.
	LaunchAccounts []string `json:"launch_accounts,omitempty"`
	// Made are the snapshots made for it by CreateImage, or copied by
	// CopyImage and RegisterImage (a device may also come from one of the
	// owner's earlier snapshots): what an image the backend refused, or a
	// crash interrupted, takes along when it goes.
	Made []string `json:"made,omitempty"`
	// ClientToken is CopyImage's idempotency token: a retry with it gets
	// this image.
	ClientToken string `json:"client_token,omitempty"`
	// Replica is the replica that recorded it pending with its end
	// unknown and waits for the backend's answer ("" on bbolt).
	Replica string `json:"replica,omitempty"`
}

// ImageDevice is one block device of an image: a snapshot of the owner's
// (or, for a device added at CreateImage with no snapshot, an empty volume).
type ImageDevice struct {
	DeviceName          string `json:"device_name"`
	SnapshotID          string `json:"snapshot_id,omitempty"`
	SizeGiB             int    `json:"size_gib"`
	Type                string `json:"type"`
	Iops                int    `json:"iops,omitzero"`
	Throughput          int    `json:"throughput,omitzero"`
	Encrypted           bool   `json:"encrypted,omitzero"`
	DeleteOnTermination bool   `json:"delete_on_termination"`
}

// At returns the image at now: a pending image whose time has come is available.
func (im Image) At(now time.Time) Image {
	if im.State == ImagePending && !now.Before(im.Until) {
		im.State = ImageAvailable
	}
	return im
}

// SharedWith reports whether the owner shared the image with the account.
func (im *Image) SharedWith(account string) bool {
	_, found := slices.BinarySearch(im.LaunchAccounts, account)
	return found
}

// GetImage loads one of the user's images; nil when absent (or not theirs).
func GetImage(tx Tx, owner, id string) (*Image, error) {
	return GetOwned[Image](tx, BucketImages, owner, id)
}

// PutImage stores an image and keeps the index of what is shared (the
// shares bucket) in step with its LaunchAccounts.
func PutImage(tx Tx, im *Image) error {
	if err := indexImageShares(tx, im.Owner, im.ID, im.LaunchAccounts); err != nil {
		return err
	}
	return PutOwned(tx, BucketImages, im.Owner, im.ID, im)
}

// DeleteImage removes an image, its tags and its launch permissions.
func DeleteImage(tx Tx, owner, id string) error {
	if err := indexImageShares(tx, owner, id, nil); err != nil {
		return err
	}
	return DeleteOwned(tx, BucketImages, owner, id)
}

// ListImages returns the user's images in id order.
func ListImages(tx Tx, owner string) ([]*Image, error) {
	return ListOwned[Image](tx, BucketImages, owner)
}

// indexImageShares makes the share entries of image id those of accounts.
func indexImageShares(tx Tx, owner, id string, accounts []string) error {
	old, err := GetImage(tx, owner, id)
	if err != nil {
		return err
	}
	var was []string
	if old != nil {
		was = old.LaunchAccounts
	}
	return indexShares(tx, owner, id, was, accounts)
}

// SharedImage loads image id if its owner shared it with account; nil
// when there is no such image or it is not shared with them.
func SharedImage(tx Tx, account, id string) (*Image, error) {
	owner := SharedOwner(tx, account, id)
	if owner == "" {
		return nil, nil
	}
	im, err := GetImage(tx, owner, id)
	if err != nil || im == nil || !im.SharedWith(account) {
		return nil, err
	}
	return im, nil
}

// ImagesSharedWith returns the images other users shared with account, in id order.
func ImagesSharedWith(tx Tx, account string) ([]*Image, error) {
	owners, err := SharedWith(tx, account, "ami-")
	if err != nil {
		return nil, err
	}
	ids := slices.Sorted(maps.Keys(owners))
	var out []*Image
	for _, id := range ids {
		im, err := SharedImage(tx, account, id)
		if err != nil {
			return nil, err
		}
		if im != nil {
			out = append(out, im)
		}
	}
	return out, nil
}

// purgeImageGrants removes the launch permissions the owner's images give
// (their entries are keyed by the grantee, outside the owner's prefix).
func purgeImageGrants(tx Tx, owner string) error {
	images, err := ListImages(tx, owner)
	for _, im := range images {
		if err == nil {
			err = indexImageShares(tx, owner, im.ID, nil)
		}
	}
	return err
}
