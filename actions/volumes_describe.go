package actions

import (
	"sort"
	"strconv"
	"time"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// DescribeVolumes, and describeOwned: what the describes of volumes, their
// modifications and snapshots share.

type describeVolumesResponse struct {
	Meta
	Volumes   []volumeItem `xml:"volumeSet>item"`
	NextToken string       `xml:"nextToken,omitempty"`
}

func (s *Service) volumeAttrs(v *store.Volume, tags []store.Tag) Attrs {
	if v == nil {
		v = &store.Volume{}
	}
	return func(name string) ([]string, bool) {
		if vals, ok := tagAttrs(tags, name); ok {
			return vals, true
		}
		one := func(s string) ([]string, bool) { return []string{s}, true }
		a := v.Attachment
		attached := func(f func(*store.VolumeAttachment) string) ([]string, bool) {
			if a == nil {
				return nil, true
			}
			return one(f(a))
		}
		switch name {
		case "volume-id":
			return one(v.ID)
		case "status":
			return one(v.Status())
		case "size":
			return one(strconv.Itoa(v.SizeGiB))
		case "availability-zone":
			return one(v.Zone)
		case "availability-zone-id":
			return one(s.zoneID(v.Zone))
		case "snapshot-id":
			return one(v.SnapshotID)
		case "volume-type":
			return one(v.Type)
		case "create-time":
			return one(ec2Time(v.Created))
		case "encrypted":
			return one(strconv.FormatBool(v.Encrypted))
		case "multi-attach-enabled":
			return one(strconv.FormatBool(v.MultiAttach))
		case "attachment.instance-id":
			return attached(func(a *store.VolumeAttachment) string { return a.InstanceID })
		case "attachment.device":
			return attached(func(a *store.VolumeAttachment) string { return a.Device })
		case "attachment.status":
			return attached(func(a *store.VolumeAttachment) string { return a.Status })
		case "attachment.attach-time":
			return attached(func(a *store.VolumeAttachment) string { return ec2Second(a.AttachTime) })
		case "attachment.delete-on-termination":
			return attached(func(a *store.VolumeAttachment) string { return strconv.FormatBool(a.DeleteOnTermination) })
		}
		return unsetAttrs(unsetVolumeAttrs, name)
	}
}

// unsetVolumeAttrs: no fast snapshot restore, no managed volumes.
var unsetVolumeAttrs = map[string][]string{"fast-restored": {"false"}, "operator.managed": {"false"}, "operator.principal": nil}

// listed is one resource of a describe, with its tags.
type listed[T any] struct {
	item T
	tags []store.Tag
}

// describeOwned is what the describes here share: of the user's records
// (all), those named in ids (each must exist, else notFound), those
// matching the filters, sorted and paged by id (MaxResults 5..maxPage).
// attrs must accept a zero T (it is asked filter names only).
func describeOwned[T any](r *Request, all []listed[T], ids []string, id func(T) string, attrs func(T, []store.Tag) Attrs, notFound func(...string) error, maxPage int) ([]listed[T], string, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, "", err
	}
	var zero T
	if err := checkFilterNames(filters, attrs(zero, nil)); err != nil {
		return nil, "", err
	}
	if len(ids) > 0 && r.Params.Has("MaxResults") {
		return nil, "", ec2err.New(ec2err.InvalidParameterCombination, "The parameter MaxResults cannot be used with resource ids; ask for ids or page, not both.")
	}
	byID := map[string]bool{}
	for _, it := range all {
		byID[id(it.item)] = true
	}
	var missing []string
	for _, want := range ids {
		if !byID[want] {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return nil, "", notFound(missing...)
	}
	var out []listed[T]
	for _, it := range all {
		if (len(ids) == 0 || contains(ids, id(it.item))) && matchFilters(filters, attrs(it.item, it.tags)) {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return id(out[i].item) < id(out[j].item) })
	page, err := paginate(len(out), func(i int) string { return id(out[i].item) }, r.Params, 5, maxPage)
	if err != nil {
		return nil, "", err
	}
	return out[page.Start:page.End], page.NextToken, nil
}

// currentVolumes loads the user's volumes as they are at now, with their
// tags, leaving out deleted ones.
func currentVolumes(tx store.Tx, owner string, now time.Time) ([]listed[*store.Volume], error) {
	vols, err := store.ListVolumes(tx, owner)
	if err != nil {
		return nil, err
	}
	var out []listed[*store.Volume]
	for _, v := range vols {
		cur := v.At(now)
		if cur.State == store.VolumeDeleted {
			continue
		}
		tags, err := store.Tags(tx, owner, v.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, listed[*store.Volume]{&cur, tags})
	}
	return out, nil
}

func (s *Service) describeVolumes(r *Request) (any, error) {
	ids := r.Params.List("VolumeId")
	if err := checkIDs(ids, "vol", ec2err.InvalidVolumeIDMalformed); err != nil {
		return nil, err
	}
	resp := &describeVolumesResponse{}
	var all []listed[*store.Volume]
	err := s.Store.View(func(tx store.Tx) error {
		var err error
		all, err = currentVolumes(tx, r.User.Name, s.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	page, next, err := describeOwned(r, all, ids, func(v *store.Volume) string { return v.ID }, s.volumeAttrs, volumeNotFound, 500)
	if err != nil {
		return nil, err
	}
	for _, it := range page {
		resp.Volumes = append(resp.Volumes, volumeXML(it.item, it.tags))
	}
	resp.NextToken = next
	return resp, nil
}
