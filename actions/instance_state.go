package actions

import (
	"context"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// Every action reads an instance's state through here. The store keeps
// the state last seen; the machine moves on without asking (it boots,
// stops, dies), and the backend knows where it is now. So an action first
// has the records brought up to date from the backend, outside any
// transaction (loadInstances, currentInstance), and then checks the
// instance inside its own transaction with reread: the record as refreshed,
// or as another request wrote it since, which is newer still. A backend
// observation is recorded only over the state it was computed from
// (refresh), so it never overwrites a newer change. A describe asks the
// backend only about instances in a state the backend may leave without a
// call (describedInstances, backend.SettledStates).
//
// An instance's block devices are not stored with it: the volumes'
// attachments are the one record of what is attached where, and the
// instance's view is derived from them whenever it is read (withDevices),
// so a describe of the instance shows what a describe of its volumes shows.

// loadInstances reads the caller's instances (ids, or all when ids is
// empty) with their tags, brings their states up to date and drops the
// expired terminated ones. A named id that is not the caller's, or no
// longer visible, is InvalidInstanceID.NotFound.
func (s *Service) loadInstances(r *Request, ids []string) ([]*store.Instance, map[string][]store.Tag, error) {
	return s.readInstances(r, ids, readHow{})
}

// loadInstancesAnyState is loadInstances without hiding expired ones.
func (s *Service) loadInstancesAnyState(r *Request, ids []string) ([]*store.Instance, map[string][]store.Tag, error) {
	return s.readInstances(r, ids, readHow{keepExpired: true})
}

// describedInstances is loadInstances for the describes, which only show
// the instances: one recorded in a state its backend keeps until a call
// moves it (backend.SettledStates) is shown as recorded, without asking
// the backend. The actions that check a state before a call ask always,
// so a call whose outcome could not be recorded is found then.
func (s *Service) describedInstances(r *Request, ids []string) ([]*store.Instance, map[string][]store.Tag, error) {
	return s.readInstances(r, ids, readHow{settledAsRecorded: true})
}

// readHow is how readInstances reads.
type readHow struct {
	keepExpired       bool // expired terminated instances are kept
	settledAsRecorded bool // see describedInstances
}

// currentInstance is the caller's instance id as a describe shows it now.
// An action that checks its state does so again inside its transaction,
// with reread.
func (s *Service) currentInstance(r *Request, id string) (*store.Instance, error) {
	insts, _, err := s.loadInstances(r, []string{id})
	if err != nil {
		return nil, err
	}
	return insts[0], nil
}

// reread is inst, which currentInstance returned, as stored now, inside
// the caller's transaction; one that has gone or expired meanwhile is
// InvalidInstanceID.NotFound.
func (s *Service) reread(tx store.Tx, inst *store.Instance) (*store.Instance, error) {
	cur, err := store.GetInstance(tx, inst.Owner, inst.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if cur == nil || !s.visible(cur, now) {
		return nil, notFound([]string{inst.ID})
	}
	return cur, withDevices(tx, inst.Owner, []*store.Instance{cur}, now)
}

func (s *Service) readInstances(r *Request, ids []string, how readHow) ([]*store.Instance, map[string][]store.Tag, error) {
	owner := r.User.Name
	var insts []*store.Instance
	var tags map[string][]store.Tag
	var missing []string
	// A describe of a few by id reads what it needs in one round trip on
	// PostgreSQL; the function may run twice, so it resets its results.
	err := store.ViewRefs(s.Store, describeRefs(owner, dedupe(ids)), func(tx store.Tx) error {
		insts, tags, missing = nil, map[string][]store.Tag{}, nil
		if len(ids) == 0 {
			var err error
			if insts, err = store.ListInstances(tx, owner); err != nil {
				return err
			}
			if err := store.ScanTags(tx, owner, func(id string, t store.Tag) error {
				tags[id] = append(tags[id], t)
				return nil
			}); err != nil {
				return err
			}
			return withDevices(tx, owner, insts, s.now())
		}
		ids := dedupe(ids)
		found, err := store.GetInstances(tx, owner, ids)
		if err != nil {
			return err
		}
		for i, inst := range found {
			if inst == nil {
				missing = append(missing, ids[i])
				continue
			}
			insts = append(insts, inst)
		}
		if err := instanceTags(tx, owner, insts, tags); err != nil {
			return err
		}
		return withDevices(tx, owner, insts, s.now())
	})
	if err != nil {
		return nil, nil, err
	}
	asked := insts
	if how.settledAsRecorded {
		asked = s.unsettled(insts)
	}
	if err := s.refresh(r.Context, asked); err != nil {
		return nil, nil, err
	}
	now := s.now()
	kept := insts[:0]
	for _, inst := range insts {
		if how.keepExpired || s.visible(inst, now) {
			kept = append(kept, inst)
		} else if len(ids) > 0 {
			missing = append(missing, inst.ID)
		}
	}
	if len(missing) > 0 {
		return nil, nil, notFound(missing)
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].ID < kept[j].ID })
	return kept, tags, nil
}

// describeRefs are the keys a describe of a few of the owner's instances
// by id reads before their volumes and interfaces: the records, their tags
// and attachment indexes (instanceTags, withDevices). Many are read with
// GetMany and scans of the owner's prefixes instead.
func describeRefs(owner string, ids []string) []store.Ref {
	if len(ids) > fewInstances {
		return nil
	}
	var refs []store.Ref
	for _, id := range ids {
		refs = append(refs, store.Ref{Bucket: store.BucketInstances, Key: store.OwnedKey(owner, id)},
			store.TagsRef(owner, id), store.VolumesOnRef(owner, id), store.InterfacesOnRef(owner, id))
	}
	return refs
}

// unsettled is insts without those recorded in a state the backend keeps
// until a call moves them: all of insts when it has no such states.
func (s *Service) unsettled(insts []*store.Instance) []*store.Instance {
	if s.Backend.Settled == nil {
		return insts
	}
	var out []*store.Instance
	for _, inst := range insts {
		if !s.Backend.Settled.Settled(backend.State(inst.State)) {
			out = append(out, inst)
		}
	}
	return out
}

// instanceTags reads the tags of the owner's insts into tags: a few
// instances' own prefixes, or one scan of all the owner's tags (one read
// rather than one per instance).
func instanceTags(tx store.Tx, owner string, insts []*store.Instance, tags map[string][]store.Tag) error {
	if len(insts) > fewInstances {
		wanted := make(map[string]bool, len(insts))
		for _, inst := range insts {
			wanted[inst.ID] = true
		}
		return store.ScanTags(tx, owner, func(id string, t store.Tag) error {
			if wanted[id] {
				tags[id] = append(tags[id], t)
			}
			return nil
		})
	}
	for _, inst := range insts {
		var err error
		if tags[inst.ID], err = store.Tags(tx, owner, inst.ID); err != nil {
			return err
		}
	}
	return nil
}

// settle brings the caller's instances in a transitional state up to date
// from the backend, before a check that reads their records (a group or a
// subnet an instance still uses): a termination that finished while
// nobody described the instance must not keep the group in use.
func (s *Service) settle(r *Request) error {
	var moving []*store.Instance
	err := s.Store.View(func(tx store.Tx) error {
		insts, err := store.ListInstances(tx, r.User.Name)
		moving = slices.DeleteFunc(insts, func(inst *store.Instance) bool {
			switch backend.State(inst.State) {
			case backend.Pending, backend.Stopping, backend.ShuttingDown:
				return false
			}
			return true
		})
		return err
	})
	if err != nil {
		return err
	}
	return s.refresh(r.Context, moving)
}

// refresh asks the backend for the states of the live instances and
// records those that changed, in one transaction (per observeBatch
// instances). Nothing is written when
// nothing changed, so polling describes stay read-only.
func (s *Service) refresh(ctx context.Context, insts []*store.Instance) error {
	return s.observe(ctx, insts, false)
}

// observe brings insts up to date from the backend, in memory and through
// the transition in the store. A backend observation is recorded only over
// the state it was computed from, so it never overwrites a newer change.
// With seen (the usage reconciliation) it also records that each machine
// was seen now, and opens the usage interval an accruing instance lacks
// (one recorded before the ledger existed), from when its state began.
func (s *Service) observe(ctx context.Context, insts []*store.Instance, seen bool) error {
	var live []*store.Instance
	var ids []string
	for _, inst := range insts {
		if inst.BackendID != "" && inst.State != string(backend.Terminated) {
			live = append(live, inst)
			ids = append(ids, inst.BackendID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	machines, err := s.Backend.Describe(ctx, ids)
	if err != nil {
		return backendError(err, refusals{}, live...)
	}
	was := make([]string, len(live)) // the state each change was computed from
	changed := make([]bool, len(live))
	some := false
	for i, m := range machines {
		was[i] = live[i].State
		changed[i] = s.applyMachine(live[i], m)
		some = some || changed[i]
	}
	if !some && !seen {
		return nil
	}
	now := s.now()
	for lo := 0; lo < len(live); lo += observeBatch {
		if seen {
			yield() // background work: the requests waiting for a processor first
		}
		hi := min(lo+observeBatch, len(live))
		if err := s.recordObserved(live[lo:hi], machines[lo:hi], was[lo:hi], changed[lo:hi], seen, now); err != nil {
			return err
		}
	}
	return nil
}

// observeBatch is how many instances observe records per transaction. The
// pages a transaction rewrites are free only after it, so the usage
// reconciliation stamping all 100,000 open intervals at once grew the
// database file by the whole ledger (RSS counts the file, BENCHMARKS.md);
// in batches of the scan's order (by owner, as the ledger is keyed), the
// pages of one batch are reused by the next. A batch of 200 is a stretch of
// about 1.5 ms of the reconciliation's CPU (and of the group commit's),
// after which it yields: requests wait behind one batch, not behind 10,000
// instances' worth (150 ms, in Go's 10 ms time slices) (BENCHMARKS.md).
var observeBatch = 200

// yield lets the goroutines waiting for a processor run before the usage
// reconciliation records its next batch (runtime.Gosched; a variable for
// tests).
var yield = runtime.Gosched

// recordObserved is observe's transaction for one batch: live[i] was seen
// as machines[i], computed from state was[i].
func (s *Service) recordObserved(live []*store.Instance, machines []backend.Machine, was []string, changed []bool, seen bool, now time.Time) error {
	return s.updateWired(context.Background(), func(tx store.Tx, w *wiring) error {
		for i, m := range machines {
			cur, err := store.GetInstance(tx, live[i].Owner, live[i].ID)
			if err != nil {
				return err
			}
			// Gone, or someone else changed it meanwhile: their write is newer.
			if cur == nil || cur.State != was[i] {
				continue
			}
			if changed[i] {
				if _, err := s.transition(tx, cur, move{machine: m, wire: w}); err != nil {
					return err
				}
			}
			if seen && !vanished(move{machine: m}) {
				if err := s.seen(tx, cur, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// seen records that inst's machine was reported at now, first opening the
// usage interval it should have and lacks.
func (s *Service) seen(tx store.Tx, inst *store.Instance, now time.Time) error {
	if kind := s.usageKind(inst); kind != "" {
		iv, err := usage.OpenInterval(tx, inst.Owner, inst.ID)
		if err != nil {
			return err
		}
		if iv == nil {
			if err := usage.Open(tx, s.interval(inst, kind, inst.StateChanged)); err != nil {
				return err
			}
		}
	}
	return usage.Seen(tx, inst.Owner, inst.ID, now)
}

// fewInstances is how many instances withDevices looks up by id.
const fewInstances = 8

// attachedVolumes is the owner's volumes as they are at now, by the
// instance each is attached to: of the instances ids (through the index of
// attachments), or of all when ids is empty (one scan of the owner's
// volumes).
func attachedVolumes(tx store.Tx, owner string, ids []string, now time.Time) (map[string][]store.Volume, error) {
	var vols []*store.Volume
	var err error
	if len(ids) == 0 {
		vols, err = store.ListVolumes(tx, owner)
	} else {
		vols, err = store.ListVolumesOn(tx, owner, ids)
	}
	if err != nil {
		return nil, err
	}
	on := map[string][]store.Volume{}
	for _, v := range vols {
		cur := v.At(now)
		if cur.Attachment != nil && cur.State != store.VolumeDeleted {
			on[cur.Attachment.InstanceID] = append(on[cur.Attachment.InstanceID], cur)
		}
	}
	return on, nil
}

// withDevices sets the BlockDevices of the owner's insts from the volumes
// attached to them at now: the root device first, then in attach order;
// and their Interfaces, from the interfaces attached to them.
// A few instances read the index of attachments for their ids; many
// decode all of the owner's volumes.
func withDevices(tx store.Tx, owner string, insts []*store.Instance, now time.Time) error {
	if len(insts) == 0 {
		return nil
	}
	var ids []string
	if len(insts) <= fewInstances {
		for _, inst := range insts {
			ids = append(ids, inst.ID)
		}
	}
	on, err := attachedVolumes(tx, owner, ids, now)
	if err != nil {
		return err
	}
	nics, err := attachedInterfaces(tx, owner, ids)
	if err != nil {
		return err
	}
	for _, inst := range insts {
		bds := make([]store.BlockDevice, 0, len(on[inst.ID]))
		for _, v := range on[inst.ID] {
			bds = append(bds, blockDeviceOf(v.ID, v.Attachment))
		}
		root := strings.TrimPrefix(inst.RootDeviceName, "/dev/")
		isRoot := func(bd store.BlockDevice) bool { return strings.TrimPrefix(bd.DeviceName, "/dev/") == root }
		sort.Slice(bds, func(i, j int) bool {
			a, b := bds[i], bds[j]
			switch {
			case isRoot(a) != isRoot(b):
				return isRoot(a)
			case !a.AttachTime.Equal(b.AttachTime):
				return a.AttachTime.Before(b.AttachTime)
			}
			return a.DeviceName < b.DeviceName
		})
		inst.BlockDevices = bds
		inst.Interfaces = nics[inst.ID]
	}
	return nil
}

// attachedInterfaces is the owner's network interfaces by the instance
// each is attached to, in device order: of the instances ids (through the
// index), or of all when ids is empty (one scan of the owner's interfaces).
func attachedInterfaces(tx store.Tx, owner string, ids []string) (map[string][]*store.NetworkInterface, error) {
	var nis []*store.NetworkInterface
	var err error
	if len(ids) == 0 {
		nis, err = store.ListNetworkInterfaces(tx, owner)
	} else {
		nis, err = store.ListInterfacesOn(tx, owner, ids)
	}
	if err != nil {
		return nil, err
	}
	on := map[string][]*store.NetworkInterface{}
	for _, ni := range nis {
		if a := ni.Attachment; a != nil {
			on[a.InstanceID] = append(on[a.InstanceID], ni)
		}
	}
	for _, l := range on {
		sort.Slice(l, func(i, j int) bool { return l[i].Attachment.DeviceIndex < l[j].Attachment.DeviceIndex })
	}
	return on, nil
}
