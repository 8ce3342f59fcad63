package store

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// The index of attachments follows each write of a volume: attach, move
// to another instance, detach, delete.
func TestListVolumesOnFollowsAttachments(t *testing.T) {
	s, _ := openTemp(t)
	const a, b = "i-0000000000000000a", "i-0000000000000000b"
	const v1, v2, v3 = "vol-00000000000000001", "vol-00000000000000002", "vol-00000000000000003"
	on := func(inst string) *VolumeAttachment { return &VolumeAttachment{InstanceID: inst} }
	put := func(vols ...*Volume) func(Tx) error {
		return func(tx Tx) error {
			for _, v := range vols {
				if err := PutVolume(tx, v); err != nil {
					return err
				}
			}
			return nil
		}
	}
	cases := []struct {
		name   string
		change func(Tx) error
		ids    []string
		want   []string
	}{
		{"attached", put(
			&Volume{ID: v1, Owner: "alice", Attachment: on(a)},
			&Volume{ID: v2, Owner: "alice", Attachment: on(b)},
			&Volume{ID: v3, Owner: "alice"},
			&Volume{ID: v3, Owner: "bob", Attachment: on(a)},
		), []string{a}, []string{v1}},
		{"two instances", nil, []string{b, a}, []string{v2, v1}},
		{"an instance naming none", nil, []string{"i-0000000000000000c"}, nil},
		{"moved to b", put(&Volume{ID: v1, Owner: "alice", Attachment: on(b)}), []string{a, b}, []string{v1, v2}},
		{"attached to a", put(&Volume{ID: v3, Owner: "alice", Attachment: on(a)}), []string{a, b}, []string{v3, v1, v2}},
		{"detached", put(&Volume{ID: v2, Owner: "alice"}), []string{a, b}, []string{v3, v1}},
		{"deleted", func(tx Tx) error { return DeleteVolume(tx, "alice", v3) }, []string{a, b}, []string{v1}},
	}
	for _, c := range cases {
		if c.change != nil {
			if err := s.Update(c.change); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		var got []string
		err := s.View(func(tx Tx) error {
			found, err := ListVolumesOn(tx, "alice", c.ids)
			for _, v := range found {
				got = append(got, v.ID)
			}
			return err
		})
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.want)
		}
	}
	var keys []string
	s.View(func(tx Tx) error {
		return tx.Scan(BucketVolumeAttachments, "", func(key string, _ []byte) error {
			keys = append(keys, key)
			return nil
		})
	})
	if want := []string{"alice/" + b + "/" + v1, "bob/" + a + "/" + v3}; !slices.Equal(keys, want) {
		t.Errorf("index: got %v, want %v", keys, want)
	}
}

// A data directory of schema 5 has no index of attachments: Migrate builds
// it from the volumes' records.
func TestMigrateVolumeAttachmentsFromSchema5(t *testing.T) {
	st, ledger := migrateFrom(t, "5", func(tx Tx) error {
		for _, v := range []*Volume{
			{ID: "vol-1", Owner: "ann", Attachment: &VolumeAttachment{InstanceID: "i-1"}},
			{ID: "vol-2", Owner: "ann"},
			{ID: "vol-3", Owner: "ben", Attachment: &VolumeAttachment{InstanceID: "i-2", Status: AttachDetaching}},
		} {
			// What version 5 wrote: the record alone.
			if err := PutOwned(tx, BucketVolumes, v.Owner, v.ID, v); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	st.View(func(tx Tx) error {
		return tx.Scan(BucketVolumeAttachments, "", func(key string, _ []byte) error {
			got = append(got, key)
			return nil
		})
	})
	if want := []string{"ann/i-1/vol-1", "ben/i-2/vol-3"}; !slices.Equal(got, want) {
		t.Errorf("index: got %v, want %v", got, want)
	}
	if ledger {
		t.Errorf("ledger step: got run from version 5, want only from versions before 4")
	}
}

// The index of volume intents follows each write of a volume: an intent
// (creating or deleting, no end known) is in it, the answer's write takes
// it out, and so does a delete.
func TestVolumeIntentIndexFollowsWrites(t *testing.T) {
	s, _ := openTemp(t)
	const v1, v2 = "vol-00000000000000001", "vol-00000000000000002"
	at := UnknownEnd.AddDate(-8000, 0, 0)
	put := func(v *Volume) func(Tx) error { return func(tx Tx) error { return PutVolume(tx, v) } }
	cases := []struct {
		name   string
		change func(Tx) error
		want   []string
	}{
		{"creation recorded", put(&Volume{ID: v1, Owner: "alice", State: VolumeCreating, Until: UnknownEnd}), []string{"alice/" + v1}},
		{"a volume with its end known", put(&Volume{ID: v2, Owner: "bob", State: VolumeCreating, Until: at}), []string{"alice/" + v1}},
		{"creation answered", put(&Volume{ID: v1, Owner: "alice", State: VolumeCreating, Until: at}), nil},
		{"deletion recorded", put(&Volume{ID: v2, Owner: "bob", State: VolumeDeleting, Until: UnknownEnd}), []string{"bob/" + v2}},
		{"written again while waiting", put(&Volume{ID: v2, Owner: "bob", State: VolumeDeleting, Until: UnknownEnd, SizeGiB: 2}), []string{"bob/" + v2}},
		{"deletion rolled back", put(&Volume{ID: v2, Owner: "bob", State: VolumeAvailable}), nil},
		{"deletion recorded again", put(&Volume{ID: v2, Owner: "bob", State: VolumeDeleting, Until: UnknownEnd}), []string{"bob/" + v2}},
		{"record deleted", func(tx Tx) error { return DeleteVolume(tx, "bob", v2) }, nil},
	}
	for _, c := range cases {
		if err := s.Update(c.change); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := volumeIntents(t, s); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// A data directory of schema 6 has no index of volume intents: Migrate
// builds it from the volumes' records.
func TestMigrateVolumeIntentsFromSchema6(t *testing.T) {
	st, _ := migrateFrom(t, "6", func(tx Tx) error {
		for _, v := range []*Volume{
			{ID: "vol-1", Owner: "ann", State: VolumeCreating, Until: UnknownEnd},
			{ID: "vol-2", Owner: "ann", State: VolumeAvailable},
			{ID: "vol-3", Owner: "ben", State: VolumeDeleting, Until: UnknownEnd},
			{ID: "vol-4", Owner: "ben", State: VolumeDeleting, Until: UnknownEnd.AddDate(-8000, 0, 0)},
		} {
			// What version 6 wrote: the record alone.
			if err := PutOwned(tx, BucketVolumes, v.Owner, v.ID, v); err != nil {
				return err
			}
		}
		return nil
	})
	if got, want := volumeIntents(t, st), []string{"ann/vol-1", "ben/vol-3"}; !slices.Equal(got, want) {
		t.Errorf("index: got %v, want %v", got, want)
	}
}

// volumeIntents lists the index of volume intents (OWNER/ID).
func volumeIntents(t *testing.T, st Store) []string {
	t.Helper()
	var out []string
	err := st.View(func(tx Tx) error {
		return ScanVolumeIntents(tx, func(owner, id string) error {
			out = append(out, owner+"/"+id)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// volumeReads fails the test on every read of the volumes bucket.
type volumeReads struct {
	Tx
	t *testing.T
}

func (r volumeReads) Get(b Bucket, key string) []byte {
	if b == BucketVolumes {
		r.t.Errorf("got a read of volume %s, want none", key)
	}
	return r.Tx.Get(b, key)
}

// PutNewVolume reads no volume and leaves what PutVolume leaves for a
// volume of a new id: the record, its index entries and the counters.
func TestPutNewVolume(t *testing.T) {
	s, _ := openTemp(t)
	const id = "vol-0000000000000000a"
	cases := []struct {
		name string
		v    Volume
	}{
		{"attached", Volume{ID: id, SizeGiB: 8, State: VolumeAvailable, Attachment: &VolumeAttachment{InstanceID: "i-0000000000000000a"}}},
		{"an intent", Volume{ID: id, SizeGiB: 4, State: VolumeCreating, Until: UnknownEnd}},
		{"detached", Volume{ID: id, SizeGiB: 2, State: VolumeAvailable}},
	}
	for i, c := range cases {
		put, putNew := c.v, c.v
		put.Owner, putNew.Owner = fmt.Sprintf("old%d", i), fmt.Sprintf("new%d", i)
		err := s.Update(func(tx Tx) error {
			if err := PutVolume(tx, &put); err != nil {
				return err
			}
			return PutNewVolume(volumeReads{tx, t}, &putNew)
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// Everything each owner has, keyed without the owner.
		state := func(owner string) map[string]string {
			m := map[string]string{}
			err := s.View(func(tx Tx) error {
				for _, b := range []Bucket{BucketVolumes, BucketVolumeAttachments, BucketVolumeIntents} {
					if err := tx.Scan(b, OwnerPrefix(owner), func(k string, v []byte) error {
						m[string(b)+" "+strings.TrimPrefix(k, owner)] = strings.ReplaceAll(string(v), owner, "OWNER")
						return nil
					}); err != nil {
						return err
					}
				}
				c, err := GetCounters(tx, owner)
				m["counters"] = fmt.Sprintf("%+v", c)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		if got, want := state(putNew.Owner), state(put.Owner); !maps.Equal(got, want) {
			t.Errorf("%s: got %v after PutNewVolume, want %v as after PutVolume", c.name, got, want)
		}
	}
}
