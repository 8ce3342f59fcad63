package actions

import (
	"errors"
	"slices"
	"strconv"
	"strings"
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

func snapshotNotFound(ids ...string) error {
	return ec2err.New(ec2err.InvalidSnapshotNotFound, "The snapshot '%s' does not exist.", strings.Join(ids, ", "))
}

type snapshotItem struct {
	SnapshotID  string   `xml:"snapshotId"`
	VolumeID    string   `xml:"volumeId"`
	Status      string   `xml:"status"`
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	VolumeSize  int      `xml:"volumeSize"`
	Description string   `xml:"description"`
	Encrypted   bool     `xml:"encrypted"`
	KmsKeyID    string   `xml:"kmsKeyId,omitempty"`
	StorageTier string   `xml:"storageTier"`
	Tags        []tagXML `xml:"tagSet>item"` // written even when empty (moto reads an empty list)
}

func snapshotXML(sn *store.Snapshot, ownerID string, tags []store.Tag, now time.Time) snapshotItem {
	cur, progress := sn.At(now)
	return snapshotItem{
		SnapshotID: cur.ID, VolumeID: cur.VolumeID, Status: cur.State, StartTime: ec2Time(cur.Started),
		Progress: strconv.Itoa(progress) + "%", OwnerID: ownerID, VolumeSize: cur.VolumeSize,
		Description: cur.Description, Encrypted: cur.Encrypted, KmsKeyID: cur.KmsKeyID, StorageTier: "standard", Tags: tagsXML(tags),
	}
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
	taken, err := s.takeSnapshots(r, func(store.Tx) ([]snapshotOf, error) {
		return []snapshotOf{{volumeID: volumeID, description: r.Params.String("Description"), tags: tags}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &createSnapshotResponse{snapshotItem: taken[0]}, nil
}

// snapshotOf is one snapshot to take: of which volume, described and tagged how.
type snapshotOf struct {
	volumeID, description string
	tags                  []store.Tag
}

// takeSnapshots records the snapshots that plan names (it reads the
// store in the transaction that records them, counted against the
// quota together), asks the backend for each, and records its answer:
// a snapshot the backend refused is removed again.
func (s *Service) takeSnapshots(r *Request, plan func(tx store.Tx) ([]snapshotOf, error)) ([]snapshotItem, error) {
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	var snaps []*store.Snapshot
	var tags [][]store.Tag
	err = s.Store.Update(func(tx store.Tx) error {
		snaps, tags = nil, nil
		want, err := plan(tx)
		if err != nil {
			return err
		}
		now := s.now()
		for _, w := range want {
			v, err := store.GetVolume(tx, owner, w.volumeID)
			if err != nil {
				return err
			}
			if v == nil || v.At(now).State == store.VolumeDeleted {
				return volumeNotFound(w.volumeID)
			}
			cur := v.At(now)
			if err := snapshottable(&cur); err != nil {
				return err
			}
			sn := newSnapshot(&cur, w.description, now)
			snaps = append(snaps, &sn)
			tags = append(tags, w.tags)
		}
		if err := s.checkQuota(tx, r.User, quota.Delta{Snapshots: len(snaps)}); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		for i, sn := range snaps {
			if err := putTags(tx, owner, sn.ID, tags[i]); err != nil {
				return err
			}
			if err := store.PutSnapshot(tx, sn); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]snapshotItem, 0, len(snaps))
	var refused error
	for i, sn := range snaps {
		end, berr := vb.CreateSnapshot(r.Context, sn.ID, sn.VolumeID)
		err := s.Store.Update(func(tx store.Tx) error {
			if berr != nil {
				return store.DeleteSnapshot(tx, owner, sn.ID)
			}
			sn.Until = end
			return store.PutSnapshot(tx, sn)
		})
		if berr != nil {
			refused = backendError(berr, volumeRefusals)
			continue
		}
		if err != nil {
			return nil, err
		}
		storedTags := slices.Clone(tags[i])
		store.SortTags(storedTags)
		out = append(out, snapshotXML(sn, r.User.AccountID, storedTags, s.now()))
	}
	if refused != nil {
		return nil, refused
	}
	return out, nil
}

// snapshottable refuses a snapshot of v (as it is now) unless it is
// available or in-use.
func snapshottable(v *store.Volume) error {
	if v.State != store.VolumeAvailable {
		return ec2err.New(ec2err.IncorrectState, "Volume %s is '%s'; it can be snapshotted once it is 'available' or 'in-use'.", v.ID, v.State)
	}
	return nil
}

// newSnapshot is the record of a new snapshot of v, pending with its end
// unknown until the backend answers.
func newSnapshot(v *store.Volume, description string, now time.Time) store.Snapshot {
	return store.Snapshot{
		ID: store.NewID("snap"), Owner: v.Owner, VolumeID: v.ID, VolumeSize: v.SizeGiB,
		Description: description, Encrypted: v.Encrypted, KmsKeyID: v.KmsKeyID,
		Started: now, State: store.SnapshotPending, Until: unknownEnd,
	}
}

type describeSnapshotsResponse struct {
	Meta
	Snapshots []snapshotItem `xml:"snapshotSet>item"`
	NextToken string         `xml:"nextToken,omitempty"`
}

func snapshotAttrs(accounts map[string]string, now time.Time) func(*store.Snapshot, []store.Tag) Attrs {
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
				"owner-id": accounts[sn.Owner], "description": cur.Description, "volume-size": strconv.Itoa(cur.VolumeSize),
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

// snapshotVisible applies Owner.N and RestorableBy.N to a snapshot of
// the account owner, as the caller asks: Owner names self or owner
// accounts; RestorableBy names the accounts that may create volumes from
// it (self, an account id, or all, which here means the caller's own:
// nothing is public).
func snapshotVisible(p *query.Params, caller string, sn *store.Snapshot, owner string) bool {
	own := owner == caller
	ownerOK := func(o string) bool { return o == owner || o == "self" && own }
	restorableOK := func(a string) bool {
		switch {
		case a == "self" || a == caller:
			return true // the caller's own, and every snapshot shared with them
		case own:
			return a == "all" || slices.Contains(sn.VolumePermissions, a)
		}
		return false
	}
	anyOf := func(list []string, ok func(string) bool) bool {
		return len(list) == 0 || slices.ContainsFunc(list, ok)
	}
	return anyOf(p.List("Owner"), ownerOK) && anyOf(p.List("RestorableBy"), restorableOK)
}

// snapshotsFor lists the snapshots the user may see: their own, with
// tags, and those classmates shared with them (without their owners'
// tags), with each owner's account id.
func snapshotsFor(tx store.Tx, u *store.User) ([]listed[*store.Snapshot], map[string]string, error) {
	snaps, err := store.ListSnapshots(tx, u.Name)
	if err != nil {
		return nil, nil, err
	}
	accounts := map[string]string{u.Name: u.AccountID}
	var all []listed[*store.Snapshot]
	for _, sn := range snaps {
		tags, err := store.Tags(tx, u.Name, sn.ID)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, listed[*store.Snapshot]{sn, tags})
	}
	shared, err := store.SharedWith(tx, u.AccountID, "snap-")
	if err != nil {
		return nil, nil, err
	}
	for id, owner := range shared {
		sn, account, err := sharedSnapshot(tx, u, owner, id)
		if err != nil {
			return nil, nil, err
		}
		if sn != nil {
			accounts[owner] = account
			all = append(all, listed[*store.Snapshot]{item: sn})
		}
	}
	return all, accounts, nil
}

// sharedSnapshot is owner's snapshot id if it is shared with u (the index
// of shares is a hint, checked here against the snapshot), and the
// owner's account id; nil if not.
func sharedSnapshot(tx store.Tx, u *store.User, owner, id string) (*store.Snapshot, string, error) {
	if owner == "" || owner == u.Name {
		return nil, "", nil
	}
	sn, err := store.GetSnapshot(tx, owner, id)
	if err != nil || sn == nil || !slices.Contains(sn.VolumePermissions, u.AccountID) {
		return nil, "", err
	}
	ou, err := store.GetUser(tx, owner)
	if err != nil {
		return nil, "", ignoreGone(err)
	}
	return sn, ou.AccountID, nil
}

// restorableSnapshot is the user's snapshot id, or one a classmate shares
// with them; nil when neither.
func restorableSnapshot(tx store.Tx, owner, id string) (*store.Snapshot, error) {
	sn, err := store.GetSnapshot(tx, owner, id)
	if err != nil || sn != nil {
		return sn, err
	}
	u, err := store.GetUser(tx, owner)
	if err != nil {
		return nil, ignoreGone(err)
	}
	sn, _, err = sharedSnapshot(tx, u, store.SharedOwner(tx, u.AccountID, id), id)
	return sn, err
}

// ignoreGone is nil for a user who is gone (their shares went with them).
func ignoreGone(err error) error {
	if errors.Is(err, store.ErrNoUser) {
		return nil
	}
	return err
}

func (s *Service) describeSnapshots(r *Request) (any, error) {
	ids := r.Params.List("SnapshotId")
	if err := checkIDs(ids, "snap", ec2err.InvalidSnapshotIDMalformed); err != nil {
		return nil, err
	}
	resp := &describeSnapshotsResponse{}
	now := s.now()
	var all []listed[*store.Snapshot]
	var accounts map[string]string
	err := s.Store.View(func(tx store.Tx) (err error) {
		all, accounts, err = snapshotsFor(tx, r.User)
		return err
	})
	if err != nil {
		return nil, err
	}
	page, next, err := describeOwned(r, all, ids, func(sn *store.Snapshot) string { return sn.ID }, snapshotAttrs(accounts, now), snapshotNotFound, 1000)
	if err != nil {
		return resp, err
	}
	for _, it := range page {
		if owner := accounts[it.item.Owner]; snapshotVisible(r.Params, r.User.AccountID, it.item, owner) {
			resp.Snapshots = append(resp.Snapshots, snapshotXML(it.item, owner, it.tags, now))
		}
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
		if err := snapshotInImage(tx, r.User.Name, id); err != nil {
			return err
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
