package actions

import (
	"fmt"
	"strconv"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// Changing a volume's size, type or performance: ModifyVolume, and
// DescribeVolumesModifications to follow the change.

type volumeModificationItem struct {
	VolumeID           string `xml:"volumeId"`
	ModificationState  string `xml:"modificationState"`
	TargetSize         int    `xml:"targetSize"`
	TargetIops         int    `xml:"targetIops,omitempty"`
	TargetVolumeType   string `xml:"targetVolumeType"`
	TargetThroughput   int    `xml:"targetThroughput,omitempty"`
	OriginalSize       int    `xml:"originalSize"`
	OriginalIops       int    `xml:"originalIops,omitempty"`
	OriginalVolumeType string `xml:"originalVolumeType"`
	OriginalThroughput int    `xml:"originalThroughput,omitempty"`
	Progress           int    `xml:"progress"`
	StartTime          string `xml:"startTime"`
	EndTime            string `xml:"endTime,omitempty"`
}

func modificationXML(m *store.VolumeModification, now time.Time) volumeModificationItem {
	cur, progress := m.At(now)
	item := volumeModificationItem{
		VolumeID: cur.VolumeID, ModificationState: cur.State,
		TargetSize: cur.TargetSize, TargetIops: cur.TargetIops, TargetVolumeType: cur.TargetType, TargetThroughput: cur.TargetThroughput,
		OriginalSize: cur.OriginalSize, OriginalIops: cur.OriginalIops, OriginalVolumeType: cur.OriginalType, OriginalThroughput: cur.OriginalThroughput,
		Progress: progress, StartTime: ec2Time(cur.Started),
	}
	if cur.State == store.ModificationCompleted {
		item.EndTime = ec2Time(cur.Until)
	}
	return item
}

type modifyVolumeResponse struct {
	Meta
	Modification volumeModificationItem `xml:"volumeModification"`
}

func (s *Service) modifyVolume(r *Request) (any, error) {
	volumeID, err := requiredID(r.Params, "VolumeId", "vol", ec2err.InvalidVolumeIDMalformed)
	if err != nil {
		return nil, err
	}
	vb, err := s.volumeBackend()
	if err != nil {
		return nil, err
	}
	var mod store.VolumeModification
	var spec backend.VolumeSpec
	_, err = s.updateVolume(r, volumeID, func(tx store.Tx, v *store.Volume) error {
		m, err := s.planModification(tx, r.Params, v)
		if err != nil {
			return err
		}
		if err := s.checkQuota(tx, r.User, quota.Delta{VolumeGiB: m.TargetSize - v.SizeGiB}); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		mod = *m
		v.SizeGiB, v.Type, v.Iops, v.Throughput = m.TargetSize, m.TargetType, m.TargetIops, m.TargetThroughput
		spec = volumeSpec(v)
		return store.PutVolumeModification(tx, &mod)
	})
	if err != nil {
		return nil, err
	}
	end, berr := vb.ModifyVolume(r.Context, spec)
	_, err = s.confirm(r, volumeID, end, berr,
		func(*store.Volume, time.Time) { mod.Until = end },
		func(v *store.Volume) {
			v.SizeGiB, v.Type, v.Iops, v.Throughput = mod.OriginalSize, mod.OriginalType, mod.OriginalIops, mod.OriginalThroughput
			mod.State, mod.Until = "failed", s.now()
		})
	if werr := s.Store.Update(func(tx store.Tx) error { return store.PutVolumeModification(tx, &mod) }); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	return &modifyVolumeResponse{Modification: modificationXML(&mod, s.now())}, nil
}

// planModification checks a ModifyVolume against the volume and returns
// the modification to record (still modifying).
func (s *Service) planModification(tx store.Tx, p *query.Params, v *store.Volume) (*store.VolumeModification, error) {
	if v.State != store.VolumeAvailable {
		return nil, ec2err.New(ec2err.IncorrectState, "Volume %s is '%s'; it can be modified once it is 'available' or 'in-use'.", v.ID, v.State)
	}
	if prev, err := store.GetVolumeModification(tx, v.Owner, v.ID); err != nil {
		return nil, err
	} else if prev != nil {
		if cur, _ := prev.At(s.now()); cur.State == store.ModificationModifying {
			return nil, ec2err.New(ec2err.IncorrectState, "Volume %s is already being modified; wait until that modification completes.", v.ID)
		}
	}
	size, err := p.Int("Size", v.SizeGiB)
	if err != nil {
		return nil, err
	}
	if size < v.SizeGiB {
		return nil, ec2err.BadValue("Size", strconv.Itoa(size), fmt.Sprintf("A volume can only grow; %s is %d GiB.", v.ID, v.SizeGiB))
	}
	shape := volumeShape{Size: size, Type: p.String("VolumeType")}
	if shape.Type == "" {
		shape.Type = v.Type
	}
	if shape.Iops, err = p.Int("Iops", 0); err != nil {
		return nil, err
	}
	if shape.Throughput, err = p.Int("Throughput", 0); err != nil {
		return nil, err
	}
	if shape.Type == v.Type && !p.Has("Iops") && volumeKinds[v.Type].iops {
		shape.Iops = v.Iops
	}
	if shape.Type == v.Type && !p.Has("Throughput") {
		shape.Throughput = v.Throughput
	}
	if err := checkVolumeShape(&shape); err != nil {
		return nil, err
	}
	if shape == (volumeShape{v.SizeGiB, v.Type, v.Iops, v.Throughput}) {
		return nil, ec2err.New(ec2err.InvalidParameterValue, "The modification of %s changes nothing; give a larger Size or another VolumeType, Iops or Throughput.", v.ID)
	}
	now := s.now()
	return &store.VolumeModification{
		VolumeID: v.ID, Owner: v.Owner, State: store.ModificationModifying,
		OriginalSize: v.SizeGiB, OriginalType: v.Type, OriginalIops: v.Iops, OriginalThroughput: v.Throughput,
		TargetSize: shape.Size, TargetType: shape.Type, TargetIops: shape.Iops, TargetThroughput: shape.Throughput,
		Started: now, Until: unknownEnd,
	}, nil
}

type describeVolumesModificationsResponse struct {
	Meta
	Modifications []volumeModificationItem `xml:"volumeModificationSet>item"`
	NextToken     string                   `xml:"nextToken,omitempty"`
}

func modificationAttrs(now time.Time) func(*store.VolumeModification, []store.Tag) Attrs {
	return func(m *store.VolumeModification, _ []store.Tag) Attrs {
		return func(name string) ([]string, bool) {
			if m == nil {
				m = &store.VolumeModification{}
			}
			cur, _ := m.At(now)
			values := map[string]string{
				"volume-id": cur.VolumeID, "modification-state": cur.State,
				"target-size": strconv.Itoa(cur.TargetSize), "target-volume-type": cur.TargetType,
				"target-iops": strconv.Itoa(cur.TargetIops), "target-throughput": strconv.Itoa(cur.TargetThroughput),
				"original-size": strconv.Itoa(cur.OriginalSize), "original-volume-type": cur.OriginalType,
				"original-iops": strconv.Itoa(cur.OriginalIops), "original-throughput": strconv.Itoa(cur.OriginalThroughput),
				"start-time": ec2Time(cur.Started),
			}
			v, ok := values[name]
			return []string{v}, ok
		}
	}
}

// requireVolumes fails with InvalidVolume.NotFound naming every id the
// user has no (undeleted) volume for.
func requireVolumes(tx store.Tx, owner string, ids []string, now time.Time) error {
	var missing []string
	for _, id := range ids {
		v, err := store.GetVolume(tx, owner, id)
		if err != nil {
			return err
		}
		if v == nil || v.At(now).State == store.VolumeDeleted {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return volumeNotFound(missing...)
	}
	return nil
}

func (s *Service) describeVolumesModifications(r *Request) (any, error) {
	ids := r.Params.List("VolumeId")
	if err := checkIDs(ids, "vol", ec2err.InvalidVolumeIDMalformed); err != nil {
		return nil, err
	}
	resp := &describeVolumesModificationsResponse{}
	now := s.now()
	var all []listed[*store.VolumeModification]
	err := s.Store.View(func(tx store.Tx) error {
		if err := requireVolumes(tx, r.User.Name, ids, now); err != nil {
			return err
		}
		mods, err := store.ListVolumeModifications(tx, r.User.Name)
		all = nil
		for _, m := range mods {
			if len(ids) == 0 || contains(ids, m.VolumeID) {
				all = append(all, listed[*store.VolumeModification]{item: m})
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	page, next, err := describeOwned(r, all, nil, func(m *store.VolumeModification) string { return m.VolumeID }, modificationAttrs(now), volumeNotFound, 500)
	if err != nil {
		return nil, err
	}
	for _, it := range page {
		resp.Modifications = append(resp.Modifications, modificationXML(it.item, now))
	}
	resp.NextToken = next
	return resp, nil
}
