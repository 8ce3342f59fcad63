package actions

import (
	"slices"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
)

// A snapshot's attributes: createVolumePermission, the accounts a student
// lets create volumes from it (a classmate's account id: with the
// image launch permissions, the only sanctioned access to another
// student's resources), and productCodes (none here). Snapshots cannot be
// made public. CreateSnapshots takes the snapshots of an instance's volumes.
var snapshotAttributeActions = map[string]Handler{
	"DescribeSnapshotAttribute": (*Service).describeSnapshotAttribute,
	"ModifySnapshotAttribute":   (*Service).modifySnapshotAttribute,
	"ResetSnapshotAttribute":    (*Service).resetSnapshotAttribute,
	"CreateSnapshots":           (*Service).createSnapshots,
}

const (
	createVolumePermission = "createVolumePermission"
	productCodes           = "productCodes"
)

type describeSnapshotAttributeResponse struct {
	Meta
	ProductCodes      *struct{}                `xml:"productCodes"`
	SnapshotID        string                   `xml:"snapshotId"`
	VolumePermissions *itemList[permissionXML] `xml:"createVolumePermission"`
}

// snapshotAttributeName checks Attribute: one of the two EC2 knows.
func snapshotAttributeName(p *query.Params, required bool) (string, error) {
	name := p.String("Attribute")
	switch {
	case name == "" && required:
		return "", ec2err.Missing("Attribute")
	case name == "" || name == createVolumePermission || name == productCodes:
		return name, nil
	}
	return "", ec2err.BadValue("Attribute", name, "It must be createVolumePermission or productCodes.")
}

func (s *Service) describeSnapshotAttribute(r *Request) (any, error) {
	name, err := snapshotAttributeName(r.Params, true)
	if err != nil {
		return nil, err
	}
	id, err := requiredID(r.Params, "SnapshotId", "snap", ec2err.InvalidSnapshotIDMalformed)
	if err != nil {
		return nil, err
	}
	var sn *store.Snapshot
	err = s.Store.View(func(tx store.Tx) (err error) {
		sn, err = restorableSnapshot(tx, r.User.Name, id)
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case sn == nil:
		return nil, snapshotNotFound(id)
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	resp := &describeSnapshotAttributeResponse{SnapshotID: id}
	if name == productCodes {
		resp.ProductCodes = &struct{}{}
		return resp, nil
	}
	// A classmate a snapshot is shared with sees their own permission
	// only: whom else the owner shares with is the owner's business.
	resp.VolumePermissions = &itemList[permissionXML]{}
	for _, a := range sn.VolumePermissions {
		if sn.Owner == r.User.Name || a == r.User.AccountID {
			resp.VolumePermissions.Items = append(resp.VolumePermissions.Items, permissionXML{UserID: a})
		}
	}
	return resp, nil
}

// permissionChanges decodes the accounts to add and remove, given as
// CreateVolumePermission.Add.N / .Remove.N or as OperationType with
// UserId.N and UserGroup.N. Only a group of all is EC2's, and it would
// make the snapshot public, which no student may do.
func permissionChanges(p *query.Params) (add, remove []string, err error) {
	type change struct {
		to            *[]string
		users, groups []string
	}
	var changes []change
	for _, op := range []struct {
		name string
		to   *[]string
	}{{"Add", &add}, {"Remove", &remove}} {
		for _, m := range p.Structs("CreateVolumePermission." + op.name) {
			c := change{to: op.to}
			if u := m.String("UserId"); u != "" {
				c.users = []string{u}
			}
			if g := m.String("Group"); g != "" {
				c.groups = []string{g}
			}
			changes = append(changes, c)
		}
	}
	users, groups := p.List("UserId"), p.List("UserGroup")
	if len(users) > 0 || len(groups) > 0 {
		adding, err := operationType(p)
		if err != nil {
			return nil, nil, err
		}
		to := &remove
		if adding {
			to = &add
		}
		changes = append(changes, change{to, users, groups})
	}
	for _, c := range changes {
		for _, g := range c.groups {
			switch {
			case g != "all":
				return nil, nil, ec2err.New(ec2err.InvalidAMIAttributeItemValue, "Invalid attribute item value \"%s\" for group item type: the only group is 'all'.", g)
			case c.to == &add:
				return nil, nil, ec2err.New(ec2err.UnauthorizedOperation, "Snapshots cannot be made public here (Group=all). Share the snapshot with a classmate's account id (UserId) instead.")
			}
		}
		for _, u := range c.users {
			if !accountID(u) {
				return nil, nil, ec2err.New(ec2err.InvalidUserIDMalformed, "The user ID '%s' is malformed: an account id is 12 digits (a classmate's is the OwnerId of their resources).", u)
			}
		}
		*c.to = append(*c.to, c.users...)
	}
	if len(changes) == 0 {
		return nil, nil, ec2err.New(ec2err.MissingParameter, "Give the accounts to add or remove: CreateVolumePermission.Add.1.UserId, or OperationType with UserId.1.")
	}
	return add, remove, nil
}

// accountID reports whether s looks like an AWS account id.
func accountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (s *Service) modifySnapshotAttribute(r *Request) (any, error) {
	name, err := snapshotAttributeName(r.Params, false)
	if err != nil {
		return nil, err
	}
	if name == productCodes {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "A snapshot's productCodes cannot be modified; only createVolumePermission can.")
	}
	id, err := requiredID(r.Params, "SnapshotId", "snap", ec2err.InvalidSnapshotIDMalformed)
	if err != nil {
		return nil, err
	}
	add, remove, err := permissionChanges(r.Params)
	if err != nil {
		return nil, err
	}
	err = s.updateSnapshot(r, id, func(sn *store.Snapshot) {
		for _, a := range add {
			if !slices.Contains(sn.VolumePermissions, a) {
				sn.VolumePermissions = append(sn.VolumePermissions, a)
			}
		}
		sn.VolumePermissions = slices.DeleteFunc(sn.VolumePermissions, func(a string) bool { return slices.Contains(remove, a) })
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

func (s *Service) resetSnapshotAttribute(r *Request) (any, error) {
	name, err := snapshotAttributeName(r.Params, true)
	if err != nil {
		return nil, err
	}
	if name == productCodes {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "A snapshot's productCodes cannot be reset; only createVolumePermission can.")
	}
	id, err := requiredID(r.Params, "SnapshotId", "snap", ec2err.InvalidSnapshotIDMalformed)
	if err != nil {
		return nil, err
	}
	if err := s.updateSnapshot(r, id, func(sn *store.Snapshot) { sn.VolumePermissions = nil }); err != nil {
		return nil, err
	}
	return ok()
}

// updateSnapshot changes the caller's own snapshot in one transaction.
func (s *Service) updateSnapshot(r *Request, id string, change func(sn *store.Snapshot)) error {
	return s.Store.Update(func(tx store.Tx) error {
		sn, err := store.GetSnapshot(tx, r.User.Name, id)
		if err != nil {
			return err
		}
		if sn == nil {
			return snapshotNotFound(id)
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		change(sn)
		if len(sn.VolumePermissions) == 0 {
			sn.VolumePermissions = nil
		}
		return store.PutSnapshot(tx, sn)
	})
}

// ---- CreateSnapshots ----

type createSnapshotsResponse struct {
	Meta
	Snapshots []snapshotInfoXML `xml:"snapshotSet>item"`
}

// snapshotInfoXML is botocore's SnapshotInfo.
type snapshotInfoXML struct {
	Description string   `xml:"description"`
	Tags        []tagXML `xml:"tagSet>item,omitempty"`
	Encrypted   bool     `xml:"encrypted"`
	VolumeID    string   `xml:"volumeId"`
	State       string   `xml:"state"`
	VolumeSize  int      `xml:"volumeSize"`
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	SnapshotID  string   `xml:"snapshotId"`
}

// createSnapshots snapshots the EBS volumes attached to an instance, all
// or all but the boot volume and those excluded, at one moment.
func (s *Service) createSnapshots(r *Request) (any, error) {
	spec := r.Params.Struct("InstanceSpecification")
	instanceID, err := requiredID(spec, "InstanceId", "i", ec2err.InvalidInstanceIDMalformed)
	if err != nil {
		return nil, err
	}
	excludeBoot, err := spec.Bool("ExcludeBootVolume", false)
	if err != nil {
		return nil, err
	}
	excluded := spec.List("ExcludeDataVolumeId")
	if err := checkIDs(excluded, "vol", ec2err.InvalidVolumeIDMalformed); err != nil {
		return nil, err
	}
	copyTags := false
	switch c := r.Params.String("CopyTagsFromSource"); c {
	case "volume":
		copyTags = true
	case "":
	default:
		return nil, ec2err.BadValue("CopyTagsFromSource", c, "It must be volume.")
	}
	tags, err := tagSpecTags(r.Params, "snapshot")
	if err != nil {
		return nil, err
	}
	inst, err := s.currentInstance(r, instanceID)
	if err != nil {
		return nil, err
	}
	description := r.Params.String("Description")
	taken, err := s.takeSnapshots(r, func(tx store.Tx) ([]snapshotOf, error) {
		cur, err := s.reread(tx, inst)
		if err != nil {
			return nil, err
		}
		var out []snapshotOf
		for _, x := range excluded {
			i := slices.IndexFunc(cur.BlockDevices, func(bd store.BlockDevice) bool { return bd.VolumeID == x })
			switch {
			case i < 0:
				return nil, ec2err.New(ec2err.InvalidParameterValue, "The volume %s in ExcludeDataVolumeId is not attached to %s.", x, cur.ID)
			case cur.BlockDevices[i].DeviceName == cur.RootDeviceName:
				return nil, ec2err.New(ec2err.InvalidParameterValue, "The volume %s is %s's boot volume; exclude it with ExcludeBootVolume.", x, cur.ID)
			}
		}
		for _, bd := range cur.BlockDevices {
			if excludeBoot && bd.DeviceName == cur.RootDeviceName || slices.Contains(excluded, bd.VolumeID) {
				continue
			}
			want := snapshotOf{volumeID: bd.VolumeID, description: description}
			if copyTags {
				if want.tags, err = store.Tags(tx, cur.Owner, bd.VolumeID); err != nil {
					return nil, err
				}
			}
			want.tags = mergeTags(want.tags, tags)
			out = append(out, want)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	resp := &createSnapshotsResponse{}
	for _, t := range taken {
		resp.Snapshots = append(resp.Snapshots, snapshotInfoXML{
			Description: t.Description, Tags: t.Tags, Encrypted: t.Encrypted, VolumeID: t.VolumeID, State: t.Status,
			VolumeSize: t.VolumeSize, StartTime: t.StartTime, Progress: t.Progress, OwnerID: t.OwnerID, SnapshotID: t.SnapshotID,
		})
	}
	return resp, nil
}
