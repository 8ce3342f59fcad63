package actions

import (
	"slices"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// RunInstances (instances.go) gathers what a launch needs from the other
// families through these functions, all called inside the launch's one
// store transaction so that checks and records commit together.

// blockDeviceRequest is one BlockDeviceMapping.N of RunInstances.
type blockDeviceRequest struct {
	DeviceName          string
	VolumeSize          int // GiB; 0 = the image's (root) or required (others)
	VolumeType          string
	SnapshotID          string
	Iops                int
	DeleteOnTermination *bool // nil = the default (true for root)
	NoDevice            bool
}

// launchKey returns the OpenSSH public key of the user's keypair keyName
// ("" when keyName is ""), or InvalidKeyPair.NotFound.
func (s *Service) launchKey(tx store.Tx, owner, keyName string) (publicKey string, err error) {
	if keyName == "" {
		return "", nil
	}
	k, err := store.KeyPairByName(tx, owner, keyName)
	if err != nil {
		return "", err
	}
	if k == nil {
		return "", ec2err.New(ec2err.InvalidKeyPairNotFound, "The key pair '%s' does not exist", keyName)
	}
	return k.PublicKey, nil
}

// launchGroups resolves SecurityGroup.N names and SecurityGroupId.N ids to
// the user's groups (the user's "default" group when both are empty,
// creating it on first use), or InvalidGroup.NotFound. A group named twice
// is listed once.
func (s *Service) launchGroups(tx store.Tx, owner string, names, ids []string) ([]store.GroupRef, []backend.SecurityGroup, error) {
	def, err := ensureDefaultGroup(tx, owner)
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 && len(ids) == 0 {
		names = []string{defaultGroupName}
	}
	var refs []store.GroupRef
	var groups []backend.SecurityGroup
	add := func(id, name string) error {
		g := def // most launches name no group, or the default one
		if id != def.ID && name != def.Name {
			var err error
			if g, err = findGroup(tx, owner, id, name); err != nil {
				return err
			}
		}
		if slices.ContainsFunc(refs, func(ref store.GroupRef) bool { return ref.ID == g.ID }) {
			return nil
		}
		refs = append(refs, store.GroupRef{ID: g.ID, Name: g.Name})
		groups = append(groups, toBackendGroup(g))
		return nil
	}
	for _, id := range ids {
		if err := add(id, ""); err != nil {
			return nil, nil, err
		}
	}
	for _, name := range names {
		if err := add("", name); err != nil {
			return nil, nil, err
		}
	}
	return refs, groups, nil
}

// launchVolumes creates the volume records of a new instance (its root
// volume from the image's size unless the image is instance-store, and the
// requested mappings), attaches them
// in inst.BlockDevices, and returns them for the launch context. All are
// DeleteOnTermination unless the mapping says otherwise, as on EC2.
func (s *Service) launchVolumes(tx store.Tx, inst *store.Instance, image backend.Image, mappings []blockDeviceRequest) ([]backend.Volume, error) {
	now := s.now()
	root := firstNonEmpty(image.RootDeviceName, inst.RootDeviceName, "/dev/sda1")
	inst.RootDeviceName = root
	reqs, err := launchMappings(root, image, mappings)
	if err != nil {
		return nil, err
	}
	var out []backend.Volume
	for _, m := range reqs {
		v, err := s.launchVolume(tx, inst, m, now)
		if err != nil {
			return nil, err
		}
		out = append(out, backend.Volume{VolumeID: v.ID, Device: m.DeviceName, SizeGiB: v.SizeGiB, SnapshotID: v.SnapshotID, Root: m.DeviceName == root})
	}
	return out, nil
}
