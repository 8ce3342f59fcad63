package server

import (
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/actions"
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

// calls counts, by kind and bucket, what a store is asked ("View",
// "ReadMany users", "Get tags"), from any goroutine.
type calls struct {
	store.Store
	mu sync.Mutex
	n  map[string]int
}

type callsTx struct {
	store.Tx
	c *calls
}

func (c *calls) add(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[what]++
}

// take returns the counts so far and starts again from none.
func (c *calls) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

func (c *calls) View(fn func(store.Tx) error) error {
	c.add("View")
	return c.Store.View(func(tx store.Tx) error { return fn(callsTx{tx, c}) })
}

func (c *calls) ReadMany(b store.Bucket, keys []string) ([][]byte, error) {
	c.add("ReadMany " + string(b))
	return c.Store.ReadMany(b, keys)
}

func (t callsTx) Get(b store.Bucket, key string) []byte {
	t.c.add("Get " + string(b))
	return t.Tx.Get(b, key)
}

// A request that only reads, with a key seen before, reads the user record
// in its action's first View (no read of its own), and answers only if the
// record is still the one its credential came from: a key disabled or
// rotated meanwhile (by another replica) is refused, and any other change
// of the record is verified again and the action run again with the user
// as now stored. A mutating request reads the record before it runs.
func TestRememberedCredentialsAreConfirmedByTheFirstRead(t *testing.T) {
	var mu sync.Mutex
	runs := map[string]int{}
	ran := func(r *actions.Request) {
		mu.Lock()
		defer mu.Unlock()
		runs[r.Action]++
	}
	type answer struct {
		Group string `xml:"group"`
	}
	readTags := func(svc *actions.Service, r *actions.Request) (any, error) {
		ran(r)
		err := store.ViewRefs(svc.Store, []store.Ref{{Bucket: store.BucketTags, Key: r.User.Name}}, func(tx store.Tx) error {
			tx.Get(store.BucketTags, r.User.Name)
			return nil
		})
		return &answer{r.User.Group}, err
	}
	readNothing := func(_ *actions.Service, r *actions.Request) (any, error) {
		ran(r)
		return &answer{r.User.Group}, nil
	}
	var counted *calls
	var bolt store.Store
	f := newFixtureOver(t, func(st store.Store) store.Store {
		bolt, counted = st, &calls{Store: st, n: map[string]int{}}
		return counted
	}, map[string]actions.Handler{"DescribeTags": readTags, "DescribeNothing": readNothing, "CreateNothing": readNothing})
	setGroup := func(group string) func() error {
		return func() error {
			return bolt.Update(func(tx store.Tx) error {
				u, err := store.GetUser(tx, "alice")
				if err != nil {
					return err
				}
				u.Group = group
				return store.PutUser(tx, u)
			})
		}
	}
	disable := func(d bool) func() error { return func() error { return f.users.SetDisabled("alice", d) } }
	steps := []struct {
		name       string
		change     func() error
		action     string
		wantStatus int
		wantRuns   int
		wantCalls  map[string]int
		wantGroup  string
	}{
		{"first use: the key's index and record, then the action", nil, "DescribeTags", 200, 1,
			map[string]int{"View": 2, "Get access_keys": 1, "Get users": 1, "Get tags": 1}, ""},
		{"known key: the record in the action's View", nil, "DescribeTags", 200, 1,
			map[string]int{"View": 1, "Get users": 1, "Get tags": 1}, ""},
		{"known key, an action that reads nothing: the record before answering", nil, "DescribeNothing", 200, 1,
			map[string]int{"ReadMany users": 1}, ""},
		{"known key, a mutating action: the record before it runs", nil, "CreateNothing", 200, 1,
			map[string]int{"ReadMany users": 1}, ""},
		{"disabled meanwhile: refused, the action's answer dropped", disable(true), "DescribeTags", 401, 1,
			map[string]int{"View": 2, "Get users": 2, "ReadMany users": 1, "Get access_keys": 1}, ""},
		{"enabled again: read before the action", disable(false), "DescribeTags", 200, 1,
			map[string]int{"ReadMany users": 1, "View": 2, "Get access_keys": 1, "Get users": 1, "Get tags": 1}, ""},
		{"disabled meanwhile, an action that reads nothing: refused", disable(true), "DescribeNothing", 401, 1,
			map[string]int{"ReadMany users": 2, "View": 1, "Get access_keys": 1, "Get users": 1}, ""},
		{"enabled again", disable(false), "DescribeNothing", 200, 1,
			map[string]int{"ReadMany users": 1, "View": 1, "Get access_keys": 1, "Get users": 1}, ""},
		{"another change of the record: run again as the user is now", setGroup("cs101"), "DescribeTags", 200, 2,
			map[string]int{"View": 3, "Get users": 2, "ReadMany users": 1, "Get access_keys": 1, "Get tags": 1}, "cs101"},
	}
	for _, s := range steps {
		if s.change != nil {
			if err := s.change(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		counted.take()
		mu.Lock()
		clear(runs)
		mu.Unlock()
		got := do(t, f.signed(t, http.MethodPost, "/", params("Action", s.action)))
		if got.status != s.wantStatus {
			t.Errorf("%s: got status %d, want %d; body:\n%s", s.name, got.status, s.wantStatus, got.body)
		}
		if s.wantGroup != "" && !strings.Contains(string(got.body), "<group>"+s.wantGroup+"</group>") {
			t.Errorf("%s: got %s, want the group %q as stored now", s.name, got.body, s.wantGroup)
		}
		mu.Lock()
		n := runs[s.action]
		mu.Unlock()
		if n != s.wantRuns {
			t.Errorf("%s: the action ran %d times, want %d", s.name, n, s.wantRuns)
		}
		if calls := counted.take(); !maps.Equal(calls, s.wantCalls) {
			t.Errorf("%s: got store calls %v, want %v", s.name, calls, s.wantCalls)
		}
	}
}
