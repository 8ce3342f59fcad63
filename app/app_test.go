package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/backend/backendtest"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/notify"
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
			Version: actions.DefaultVersion, Params: query.New(v)}
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

// Open starts the guardrail sweep with the configured notifiers, and
// Close waits for it and delivers what it queued: a group whose term is
// over is told to the webhook once, however often the server restarts.
func TestGuardrailsRunWithTheApp(t *testing.T) {
	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev notify.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		got = append(got, string(ev.Kind)+":"+ev.Group)
		mu.Unlock()
	}))
	defer hook.Close()
	cfg := conf.Default()
	cfg.DataDir = t.TempDir()
	cfg.Guardrails.Webhook.URL = hook.URL
	cfg.Groups = map[string]conf.Group{"cs101": {TermEnd: "2026-02-28"}, "cs102": {TermEnd: "2026-06-30"}}
	clock := backendtest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	for range 2 {
		a, err := Open(cfg, zerolog.Nop(), clock.Now, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"term_ended:cs101"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("webhook got %v, want %v", got, want)
	}
}
