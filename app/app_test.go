package app

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/backend/backendtest"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// TestRestartRecoversVolumes: a volume a crash left creating (its intent
// recorded, the backend's answer not) can be deleted after a restart.
func TestRestartRecoversVolumes(t *testing.T) {
	cfg := conf.Default()
	cfg.DataDir = t.TempDir()
	clock := backendtest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	open := func() *App {
		a, err := Open(cfg, zerolog.Nop(), clock.Now, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := open()
	const id = "vol-0000000000000aaa1"
	// What CreateVolume records before asking the backend: no end known.
	err := a.Store.Update(func(tx store.Tx) error {
		return store.PutVolume(tx, &store.Volume{ID: id, Owner: "alice", Zone: cfg.AvailabilityZones[0], SizeGiB: 8, Type: "gp2",
			Created: clock.Now(), State: store.VolumeCreating, Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)})
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	a = open()
	defer a.Close()
	call := func(action string, kv ...string) error {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		r := &actions.Request{Context: context.Background(), ID: "test", User: &store.User{Name: "alice"}, Action: action,
			Version: actions.DefaultVersion, Params: query.New(v), Log: zerolog.Nop()}
		_, err := actions.Table()[action](a.Service, r)
		return err
	}
	clock.Advance(time.Minute)
	if err := call("DeleteVolume", "VolumeId", id); err != nil {
		t.Fatalf("DeleteVolume after the restart: got %v, want success", err)
	}
	clock.Advance(time.Minute)
	if err := call("DescribeVolumes", "VolumeId.1", id); !ec2err.Is(err, ec2err.InvalidVolumeNotFound) {
		t.Errorf("DescribeVolumes once deleted: got %v, want %s", err, ec2err.InvalidVolumeNotFound)
	}
}
