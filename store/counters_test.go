package store

import (
	"path/filepath"
	"testing"
	"time"
)

// A data directory written before counters existed (schema 1) opens, and
// Migrate gives its instances their vCPUs and every owner counters equal
// to a recount; the typed accessors then keep them.
func TestMigrateCountersFromSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "econe.db")
	st, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(tx Tx) error {
		for _, put := range []func() error{
			func() error {
				return PutOwned(tx, BucketInstances, "ann", "i-1", &Instance{ID: "i-1", Owner: "ann", InstanceType: "c5.xlarge", State: "running"})
			},
			func() error {
				return PutOwned(tx, BucketInstances, "ann", "i-2", &Instance{ID: "i-2", Owner: "ann", InstanceType: "c5.xlarge", State: "terminated"})
			},
			func() error {
				return PutOwned(tx, BucketVolumes, "ann", "vol-1", &Volume{ID: "vol-1", Owner: "ann", SizeGiB: 8, State: VolumeAvailable})
			},
			func() error { return PutOwned(tx, BucketKeyPairs, "ben", "key-1", &KeyPair{ID: "key-1", Owner: "ben"}) },
			func() error { return tx.Delete(BucketCounters, "ann") },
			func() error { return tx.Delete(BucketCounters, "ben") },
			func() error { return tx.Put(BucketMeta, schemaKey, []byte("1")) },
		} {
			if err := put(); err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st, err = OpenBolt(path, time.Second); err != nil {
		t.Fatalf("opening a schema 1 store: %v", err)
	}
	defer st.Close()
	if err := Migrate(st, func(string) int { return 4 }, func(Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]Counters{
		"ann": {Instances: map[string]int{"running": 1}, VCPUs: 4, Volumes: 1, VolumeGiB: 8},
		"ben": {KeyPairs: 1},
	}
	st.View(func(tx Tx) error {
		if v := string(tx.Get(BucketMeta, schemaKey)); v != SchemaVersion {
			t.Errorf("schema version: got %s, want %s", v, SchemaVersion)
		}
		for owner, w := range want {
			if got, _ := GetCounters(tx, owner); !got.Equal(w) {
				t.Errorf("%s: got %+v, want %+v", owner, got, w)
			}
		}
		return nil
	})
	st.Update(func(tx Tx) error { return DeleteVolume(tx, "ann", "vol-1") })
	st.View(func(tx Tx) error {
		if got, _ := GetCounters(tx, "ann"); got.Volumes != 0 || got.VolumeGiB != 0 {
			t.Errorf("after DeleteVolume: got %d volumes, %d GiB, want 0, 0", got.Volumes, got.VolumeGiB)
		}
		return nil
	})
}

// The interfaces a student creates are counted when stored, once however
// often they are stored again (attached, detached), and no longer once
// deleted; the kept count always equals a recount.
func TestNetworkInterfacesCounted(t *testing.T) {
	st, err := OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ni := &NetworkInterface{ID: "eni-1", Owner: "ann", SubnetID: "subnet-1"}
	steps := []struct {
		name   string
		change func(Tx) error
		want   int
	}{
		{"created", func(tx Tx) error { return PutNetworkInterface(tx, ni) }, 1},
		{"another", func(tx Tx) error {
			return PutNetworkInterface(tx, &NetworkInterface{ID: "eni-2", Owner: "ann", SubnetID: "subnet-1"})
		}, 2},
		{"attached", func(tx Tx) error {
			ni.Attachment = &InterfaceAttachment{ID: "eni-attach-1", InstanceID: "i-1", DeviceIndex: 1}
			return PutNetworkInterface(tx, ni)
		}, 2},
		{"detached", func(tx Tx) error { ni.Attachment = nil; return PutNetworkInterface(tx, ni) }, 2},
		{"deleted", func(tx Tx) error { return DeleteNetworkInterface(tx, "ann", "eni-1") }, 1},
		{"deleted again", func(tx Tx) error { return DeleteNetworkInterface(tx, "ann", "eni-1") }, 1},
	}
	for _, step := range steps {
		if err := st.Update(step.change); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		st.View(func(tx Tx) error {
			kept, _ := GetCounters(tx, "ann")
			recount, err := RecountCounters(tx, "ann")
			if err != nil {
				t.Fatal(err)
			}
			if kept.NetworkInterfaces != step.want || !kept.Equal(recount) {
				t.Errorf("%s: got %d interfaces (%+v), want %d and the recount %+v", step.name, kept.NetworkInterfaces, kept, step.want, recount)
			}
			return nil
		})
	}
}

// plainTx hides a Tx's memos: what a read costs without them.
type plainTx struct{ Tx }

// Within one function a bbolt transaction decodes a student's counters
// once: a launch reads them for the quota and moves them twice. What it
// keeps is what was written last, the caller's copy is its own, and a
// write of the key by other means is read anew.
func TestCountersDecodedOncePerFunction(t *testing.T) {
	st, err := OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	running := &Instance{ID: "i-1", Owner: "alice", State: "running", VCPUs: 2}
	err = st.Update(func(tx Tx) error {
		if err := MoveInstanceCounters(tx, nil, running); err != nil {
			return err
		}
		check := func(name string, want Counters) {
			t.Helper()
			if got, err := GetCounters(tx, "alice"); err != nil || !got.Equal(want) {
				t.Errorf("%s: got %+v, %v; want %+v", name, got, err, want)
			}
		}
		one := Counters{Instances: map[string]int{"running": 1}, VCPUs: 2}
		check("after the move", one)
		c, _ := GetCounters(tx, "alice")
		c.Instances["running"] = 7
		check("after the caller changed its copy", one)
		memo := testing.AllocsPerRun(10, func() { _, _ = GetCounters(tx, "alice") })
		var plain Tx = plainTx{tx}
		decode := testing.AllocsPerRun(10, func() { _, _ = GetCounters(plain, "alice") })
		if memo >= decode {
			t.Errorf("a kept read: got %v allocations, want fewer than a decode's %v", memo, decode)
		}
		if err := tx.Delete(BucketCounters, "alice"); err != nil {
			return err
		}
		check("after a Delete", Counters{})
		if err := PutJSON(tx, BucketCounters, "alice", Counters{VPCs: 3}); err != nil {
			return err
		}
		check("after a Put", Counters{VPCs: 3})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
