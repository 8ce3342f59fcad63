package app

import (
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres/pgtest"
	"github.com/rs/zerolog"
)

// TestRecoverOrphansLeavesLiveReplicasAlone: two replicas on one database.
// The intents replica B records (a launch, a volume, an elastic IP change)
// are in progress there: A's recovery leaves them alone while B
// heartbeats, and finishes them once B has stopped for a takeover, but
// not before A itself has reached the database for a takeover.
func TestRecoverOrphansLeavesLiveReplicasAlone(t *testing.T) {
	dsn := pgtest.Start(t).NewSchema(t)
	open := func() *App {
		cfg := conf.Default()
		cfg.DataDir = t.TempDir()
		cfg.Store = conf.Store{Driver: conf.StorePostgres, DSN: dsn, MaxConns: 4, LeaderTakeover: conf.DefaultLeaderTakeover}
		a, err := Open(cfg, zerolog.Nop(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a, b := open(), open()
	defer a.Close()
	if a.ReplicaID == b.ReplicaID {
		t.Fatalf("both replicas are %s, want ids of their own", a.ReplicaID)
	}
	const owner, instID, volID, allocID = "alice", "i-0000000000000aaa1", "vol-0000000000000aaa1", "eipalloc-0000000000000aaa1"
	unknown := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	// What B records before asking the backend.
	err := b.Store.Update(func(tx store.Tx) error {
		inst := &store.Instance{ID: instID, Owner: owner, ReservationID: "r-0000000000000aaa0", ImageID: "ami-00000001", InstanceType: "m1.small",
			Zone: "us-east-1a", State: "pending", Replica: b.ReplicaID}
		if err := store.PutInstance(tx, inst); err != nil {
			return err
		}
		v := &store.Volume{ID: volID, Owner: owner, Zone: "us-east-1a", SizeGiB: 8, Type: "gp2", Created: time.Now().UTC(),
			State: store.VolumeCreating, Until: unknown, Replica: b.ReplicaID}
		if err := store.PutVolume(tx, v); err != nil {
			return err
		}
		return store.PutAddressIntent(tx, &store.AddressIntent{Owner: owner, AllocationID: allocID, Started: time.Now().UTC(), Replica: b.ReplicaID})
	})
	if err != nil {
		t.Fatal(err)
	}
	type state struct {
		instance                     string
		volumeSettled, addressIntent bool
	}
	read := func() state {
		var s state
		err := a.Store.View(func(tx store.Tx) error {
			inst, err := store.GetInstance(tx, owner, instID)
			if err != nil {
				return err
			}
			v, err := store.GetVolume(tx, owner, volID)
			if err != nil {
				return err
			}
			in, err := store.GetAddressIntent(tx, allocID)
			s = state{instance: inst.State, volumeSettled: !v.Until.Equal(unknown), addressIntent: in != nil}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	inProgress := state{instance: "pending", volumeSettled: false, addressIntent: true}
	longAgo := time.Now().Add(-time.Hour).UnixNano()
	cases := []struct {
		name         string
		beforeCheck  func()
		beatingSince int64 // A's
		at           func() time.Time
		want         state
	}{
		{"B heartbeats", func() {}, longAgo, time.Now, inProgress},
		{"B stopped, A just reached the database", func() { b.Close() }, time.Now().Add(a.takeover()).UnixNano(),
			func() time.Time { return time.Now().Add(a.takeover() + time.Second) }, inProgress},
		{"B stopped for a takeover", func() {}, longAgo,
			func() time.Time { return time.Now().Add(a.takeover() + time.Second) }, state{instance: "terminated", volumeSettled: true, addressIntent: false}},
	}
	for _, c := range cases {
		c.beforeCheck()
		a.beatingSince.Store(c.beatingSince)
		if err := a.RecoverOrphans(t.Context(), c.at()); err != nil {
			t.Fatalf("%s: RecoverOrphans: %v", c.name, err)
		}
		if got := read(); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}
