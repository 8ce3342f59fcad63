package admin

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/econe/econe-server/keyring"
	"github.com/econe/econe-server/store"
)

func newUsers(t *testing.T) *Users {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := keyring.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	return &Users{Store: st, Keys: keys}
}

// Deleting a student: refused while anything with backend state remains,
// then everything they owned goes, so a new student of the same name
// starts clean.
func TestDeletePurgesWhatTheUserOwned(t *testing.T) {
	u := newUsers(t)
	if _, err := u.Add("ann", ""); err != nil {
		t.Fatal(err)
	}
	put := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := u.Store.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	put(func(tx store.Tx) error {
		for _, err := range []error{
			store.PutSecurityGroup(tx, &store.SecurityGroup{ID: "sg-00000001", Owner: "ann", Name: "default"}),
			store.PutKeyPair(tx, &store.KeyPair{ID: "key-00000001", Owner: "ann", Name: "k"}),
			store.PutInstance(tx, &store.Instance{ID: "i-00000001", Owner: "ann", State: "terminated"}),
			store.PutInstance(tx, &store.Instance{ID: "i-00000002", Owner: "ann", State: "running"}),
			store.SetTag(tx, "ann", "i-00000002", "Name", "web"),
			store.PutLaunchTemplate(tx, &store.LaunchTemplate{ID: "lt-00000001", Owner: "ann", Name: "web"}),
			store.PutLaunchTemplateVersion(tx, "ann", "lt-00000001", &store.LaunchTemplateVersion{Number: 1}),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		name    string
		setup   func(tx store.Tx) error
		wantErr error
	}{
		{"a running instance blocks", nil, ErrInUse},
		{"a volume blocks", func(tx store.Tx) error {
			inst, _ := store.GetInstance(tx, "ann", "i-00000002")
			inst.State = "terminated"
			if err := store.PutInstance(tx, inst); err != nil {
				return err
			}
			return store.PutVolume(tx, &store.Volume{ID: "vol-00000001", Owner: "ann"})
		}, ErrInUse},
		{"groups, keys, launch templates and terminated instances do not", func(tx store.Tx) error {
			return store.DeleteVolume(tx, "ann", "vol-00000001")
		}, nil},
	}
	for _, c := range cases {
		if c.setup != nil {
			put(c.setup)
		}
		if err := u.Delete("ann"); !errors.Is(err, c.wantErr) {
			t.Fatalf("%s: got %v, want %v", c.name, err, c.wantErr)
		}
	}
	if _, err := u.Add("ann", ""); err != nil {
		t.Fatal(err)
	}
	u.Store.View(func(tx store.Tx) error {
		for _, b := range store.OwnerBuckets {
			tx.Scan(b, store.OwnerPrefix("ann"), func(k string, _ []byte) error {
				t.Errorf("the new ann inherited %s %s", b, k)
				return nil
			})
		}
		return nil
	})
}
