package actions

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// recordingKeys is a backend's KeyPairs ability that records its calls and
// refuses the keys named in refuse with that code.
type recordingKeys struct {
	mu     sync.Mutex
	calls  []string
	refuse map[string]string // key pair name or id -> EC2 code
}

func (k *recordingKeys) answer(call, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, call)
	if code := k.refuse[name]; code != "" {
		return &backend.Error{Code: code, Message: "refused " + name}
	}
	return nil
}

func (k *recordingKeys) ImportKey(ctx context.Context, s backend.KeySpec) error {
	return k.answer(fmt.Sprintf("import %s %s %s", s.Owner, s.Name, strings.Fields(s.PublicKey)[0]), s.Name)
}

func (k *recordingKeys) DeleteKey(ctx context.Context, id string) error {
	return k.answer("delete "+id, id)
}

func (k *recordingKeys) took() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := k.calls
	k.calls = nil
	return out
}

func keyPairRecords(t *testing.T, e *testEnv, owner string) map[string]*store.KeyPair {
	t.Helper()
	out := map[string]*store.KeyPair{}
	e.svc.Store.View(func(tx store.Tx) error {
		keys, err := store.ListKeyPairs(tx, owner)
		for _, k := range keys {
			out[k.Name] = k
		}
		return err
	})
	return out
}

// Key pairs reach a backend with the KeyPairs ability: only the public
// key, after the record, and a refusal (with its EC2 code) leaves the
// student's key pairs as they were.
func TestKeyPairsReachBackend(t *testing.T) {
	e := newTestEnv(t, nil)
	kb := &recordingKeys{refuse: map[string]string{"refused": ec2err.RequestLimitExceeded}}
	e.svc.Backend = backend.Abilities{KeyPairs: kb}

	e.mustCall(t, "alice", "CreateKeyPair", "KeyName", "made")
	if got, want := strings.Join(kb.took(), "; "), "import alice made ssh-rsa"; got != want {
		t.Errorf("CreateKeyPair: got backend calls %q, want %q", got, want)
	}
	_, err := e.call(t, "alice", "CreateKeyPair", "KeyName", "refused")
	wantCode(t, err, ec2err.RequestLimitExceeded)
	kb.took()
	recs := keyPairRecords(t, e, "alice")
	if _, ok := recs["refused"]; ok {
		t.Errorf("a key pair the backend refused is recorded")
	}
	made := recs["made"]
	if made == nil || made.Pending != "" {
		t.Fatalf("the key pair the backend took: got %+v, want it recorded with nothing pending", made)
	}
	e.mustCall(t, "alice", "DeleteKeyPair", "KeyName", "made")
	if got, want := strings.Join(kb.took(), "; "), "delete "+made.ID; got != want {
		t.Errorf("DeleteKeyPair: got backend calls %q, want %q", got, want)
	}
	if _, ok := keyPairRecords(t, e, "alice")["made"]; ok {
		t.Errorf("a deleted key pair is still recorded")
	}
}

// A change a crash left between its intent and the backend's answer is
// finished at start-up.
func TestRecoverKeyPairs(t *testing.T) {
	e := newTestEnv(t, nil)
	kb := &recordingKeys{}
	e.svc.Backend = backend.Abilities{KeyPairs: kb}
	e.mustCall(t, "alice", "CreateKeyPair", "KeyName", "importing")
	e.mustCall(t, "alice", "CreateKeyPair", "KeyName", "deleting")
	kb.took()
	recs := keyPairRecords(t, e, "alice")
	e.svc.Store.Update(func(tx store.Tx) error {
		recs["importing"].Pending, recs["deleting"].Pending = store.KeyImporting, store.KeyDeleting
		store.PutKeyPair(tx, recs["importing"])
		return store.PutKeyPair(tx, recs["deleting"])
	})
	if err := e.svc.RecoverKeyPairs(context.Background(), AllOrphaned); err != nil {
		t.Fatal(err)
	}
	got := kb.took()
	if len(got) != 2 {
		t.Errorf("recovery: got backend calls %q, want an import and a delete", got)
	}
	after := keyPairRecords(t, e, "alice")
	if k := after["importing"]; k == nil || k.Pending != "" {
		t.Errorf("interrupted import: got %+v, want the key pair with nothing pending", k)
	}
	if k := after["deleting"]; k != nil {
		t.Errorf("interrupted delete: got %+v, want it gone", k)
	}
}
