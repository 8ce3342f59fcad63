package actions

import (
	"strconv"
	"time"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// Snapshots are point-in-time copies of the student's volumes.
var snapshotActions = map[string]Handler{
	"CreateSnapshot":    (*Service).createSnapshot,
	"DescribeSnapshots": (*Service).describeSnapshots,
	"DeleteSnapshot":    (*Service).deleteSnapshot,
}

type createSnapshotResponse struct {
	Meta
	snapshotItem
}

func (s *Service) createSnapshot(r *Request) (any, error) {
	volumeID, err := requiredID(r.Params, "VolumeId", "vol", ec2err.InvalidVolumeIDMalformed)
	if err != nil {
		return nil, err
	}
	tags, err := tagSpecTags(r.Params, "snapshot")
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	var sn store.Snapshot
	err = s.Store.Update(func(tx store.Tx) error {
		v, err := store.GetVolume(tx, owner, volumeID)
		if err != nil {
			return err
		}
		now := s.now()
		if v == nil || v.At(now).State == store.VolumeDeleted {
			return volumeNotFound(volumeID)
		}
		if cur := v.At(now); cur.State != store.VolumeAvailable {
			return ec2err.New(ec2err.IncorrectState, "Volume %s is '%s'; it can be snapshotted once it is 'available' or 'in-use'.", v.ID, cur.State)
		}
		if err := s.checkQuota(tx, r.User, quota.Delta{Snapshots: 1}); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		sn = store.Snapshot{
			ID: store.NewID("snap"), Owner: owner, VolumeID: v.ID, VolumeSize: v.SizeGiB,
			Description: r.Params.String("Description"), Encrypted: v.Encrypted, KmsKeyID: v.KmsKeyID,
			Started: now, State: store.SnapshotPending, Until: unknownEnd,
		}
		if err := putTags(tx, owner, sn.ID, tags); err != nil {
			return err
		}
		return store.PutSnapshot(tx, &sn)
	})
	if err != nil {
		return nil, err
	}
	end, berr := vb.CreateSnapshot(r.Context, sn.ID, volumeID)
	err = s.Store.Update(func(tx store.Tx) error {
		if berr != nil {
			return store.DeleteSnapshot(tx, owner, sn.ID)
		}
		sn.Until = end
		return store.PutSnapshot(tx, &sn)
	})
	if berr != nil {
		return nil, backendError(berr, volumeRefusals)
	}
	if err != nil {
		return nil, err
	}
	storedTags := make([]store.Tag, len(tags))
	for i, t := range tags {
		storedTags[i] = store.Tag{Key: t.Key, Value: t.Value}
	}
	store.SortTags(storedTags)
	return &createSnapshotResponse{snapshotItem: snapshotXML(&sn, r.User.AccountID, storedTags, s.now())}, nil
}

type describeSnapshotsResponse struct {
	Meta
	Snapshots []snapshotItem `xml:"snapshotSet>item"`
	NextToken string         `xml:"nextToken,omitempty"`
}

func snapshotAttrs(ownerID string, now time.Time) func(*store.Snapshot, []store.Tag) Attrs {
	return func(sn *store.Snapshot, tags []store.Tag) Attrs {
		return func(name string) ([]string, bool) {
			if vals, ok := tagAttrs(tags, name); ok {
				return vals, true
			}
			if sn == nil {
				sn = &store.Snapshot{}
			}
			cur, progress := sn.At(now)
			values := map[string]string{
				"snapshot-id": cur.ID, "volume-id": cur.VolumeID, "status": cur.State,
				"owner-id": ownerID, "description": cur.Description, "volume-size": strconv.Itoa(cur.VolumeSize),
				"start-time": ec2Time(cur.Started), "progress": strconv.Itoa(progress) + "%",
				"encrypted": strconv.FormatBool(cur.Encrypted), "storage-tier": "standard",
			}
			if v, ok := values[name]; ok {
				return []string{v}, true
			}
			// A student's own snapshots have no owner alias, and none is
			// an archive transfer.
			return unsetAttrs(map[string][]string{"owner-alias": nil, "transfer-type": nil}, name)
		}
	}
}

// ownSnapshotsVisible applies Owner.N and RestorableBy.N: a student sees
// their own snapshots when they ask for self, their account or all
// (restorable); nobody else's snapshots are shared with them.
func ownSnapshotsVisible(p *query.Params, accountID string) bool {
	mine := func(list []string, extra string) bool {
		if len(list) == 0 {
			return true
		}
		for _, o := range list {
			if o == "self" || o == accountID || o == extra {
				return true
			}
		}
		return false
	}
	return mine(p.List("Owner"), "") && mine(p.List("RestorableBy"), "all")
}

func (s *Service) describeSnapshots(r *Request) (any, error) {
	ids := r.Params.List("SnapshotId")
	if err := checkIDs(ids, "snap", ec2err.InvalidSnapshotIDMalformed); err != nil {
		return nil, err
	}
	visible := ownSnapshotsVisible(r.Params, r.User.AccountID)
	resp := &describeSnapshotsResponse{}
	now := s.now()
	var all []listed[*store.Snapshot]
	err := s.Store.View(func(tx store.Tx) error {
		snaps, err := store.ListSnapshots(tx, r.User.Name)
		if err != nil {
			return err
		}
		all = nil
		for _, sn := range snaps {
			tags, err := store.Tags(tx, r.User.Name, sn.ID)
			if err != nil {
				return err
			}
			all = append(all, listed[*store.Snapshot]{sn, tags})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := describeOwned(r, all, ids, func(sn *store.Snapshot) string { return sn.ID }, snapshotAttrs(r.User.AccountID, now), snapshotNotFound, 1000)
	if err != nil || !visible {
		return resp, err
	}
	for _, it := range page {
		resp.Snapshots = append(resp.Snapshots, snapshotXML(it.item, r.User.AccountID, it.tags, now))
	}
	resp.NextToken = next
	return resp, nil
}

func (s *Service) deleteSnapshot(r *Request) (any, error) {
	id, err := requiredID(r.Params, "SnapshotId", "snap", ec2err.InvalidSnapshotIDMalformed)
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	err = s.Store.View(func(tx store.Tx) error {
		sn, err := store.GetSnapshot(tx, r.User.Name, id)
		if err != nil {
			return err
		}
		if sn == nil {
			return snapshotNotFound(id)
		}
		if im, used := s.catalog().ImageFromSnapshot(id); used {
			return ec2err.New(ec2err.InvalidSnapshotInUse, "The snapshot %s is currently in use by %s; the administrator must deregister that image first.", id, im.ID)
		}
		return r.DryRun()
	})
	if err != nil {
		return nil, err
	}
	// The backend forgets the snapshot first: if the record removal then
	// fails, deleting again is harmless (backends treat unknown ids as done).
	if err := vb.DeleteSnapshot(r.Context, id); err != nil {
		return nil, backendError(err, volumeRefusals)
	}
	if err := s.Store.Update(func(tx store.Tx) error { return store.DeleteSnapshot(tx, r.User.Name, id) }); err != nil {
		return nil, err
	}
	return ok()
}
