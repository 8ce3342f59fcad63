package server

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/keyring"
	"github.com/econe/econe-server/store"
)

func TestCredentialsFollowTheRecord(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenBolt(filepath.Join(dir, "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := keyring.LoadOrCreate(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	users := &admin.Users{Store: st, Keys: keys, Clock: time.Now}
	alice, err := users.Add("alice", "")
	if err != nil {
		t.Fatal(err)
	}
	c := newCredentials(keys)
	lookup := func(id string) (*store.User, string, bool) {
		t.Helper()
		u, secret, ok, err := c.lookup(st, id)
		if err != nil {
			t.Fatal(err)
		}
		return u, secret, ok
	}

	first, secret, ok := lookup(alice.AccessKeyID)
	if !ok || secret != alice.SecretAccessKey || first.Name != "alice" {
		t.Fatalf("got %v %q %v, want alice with her secret", first, secret, ok)
	}
	first.Name = "changed by a handler"
	if again, _, _ := lookup(alice.AccessKeyID); again.Name != "alice" {
		t.Errorf("a caller's change reached the next lookup: %q", again.Name)
	}

	if err := users.SetDisabled("alice", true); err != nil {
		t.Fatal(err)
	}
	if u, secret, ok := lookup(alice.AccessKeyID); ok || secret != "" || u == nil || !u.Disabled {
		t.Errorf("disabled: got %v %q %v, want the disabled user, no secret, not ok", u, secret, ok)
	}
	if err := users.SetDisabled("alice", false); err != nil {
		t.Fatal(err)
	}
	rotated, err := users.RotateKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := lookup(alice.AccessKeyID); ok {
		t.Errorf("the key before rotation still answers")
	}
	if _, secret, ok := lookup(rotated.AccessKeyID); !ok || secret != rotated.SecretAccessKey {
		t.Errorf("rotated key: got %q %v, want the new secret", secret, ok)
	}
	if err := users.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if u, _, ok := lookup(rotated.AccessKeyID); ok || u != nil {
		t.Errorf("deleted: got %v %v, want no user", u, ok)
	}
	if len(c.byID) != 0 {
		t.Errorf("remembered %d credentials of keys that no longer exist", len(c.byID))
	}
}

// reads counts a store's Views, the Gets in them, and ReadMany's calls
// and keys.
type reads struct {
	store.Store
	views, gets, readMany, readKeys int
}

type countedTx struct {
	store.Tx
	r *reads
}

func (r *reads) View(fn func(store.Tx) error) error {
	r.views++
	return r.Store.View(func(tx store.Tx) error { return fn(countedTx{tx, r}) })
}

func (r *reads) ReadMany(b store.Bucket, keys []string) ([][]byte, error) {
	r.readMany++
	r.readKeys += len(keys)
	return r.Store.ReadMany(b, keys)
}

func (t countedTx) Get(b store.Bucket, key string) []byte {
	t.r.gets++
	return t.Tx.Get(b, key)
}

// A key looked up before reads only its user's record, in one ReadMany of
// one key (one statement, no BEGIN or COMMIT, on PostgreSQL).
func TestCredentialsReadTheRecordOnly(t *testing.T) {
	dir := t.TempDir()
	bolt, err := store.OpenBolt(filepath.Join(dir, "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bolt.Close() })
	keys, err := keyring.LoadOrCreate(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	alice, err := (&admin.Users{Store: bolt, Keys: keys, Clock: time.Now}).Add("alice", "")
	if err != nil {
		t.Fatal(err)
	}
	c := newCredentials(keys)
	for i, want := range []reads{
		{views: 1, gets: 2},        // unknown: the index and the record
		{readMany: 1, readKeys: 1}, // known: the record
		{readMany: 1, readKeys: 1},
	} {
		st := &reads{Store: bolt}
		if _, secret, ok, err := c.lookup(st, alice.AccessKeyID); err != nil || !ok || secret != alice.SecretAccessKey {
			t.Fatalf("lookup %d: got %q %v %v, want alice's secret", i, secret, ok, err)
		}
		st.Store = nil
		if *st != want {
			t.Errorf("lookup %d: got %+v, want %+v", i, *st, want)
		}
	}
}
