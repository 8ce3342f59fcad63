package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "econe.db")
	s, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOwnedResourcesAreScopedByOwner(t *testing.T) {
	s, _ := openTemp(t)
	err := s.Update(func(tx Tx) error {
		for _, inst := range []*Instance{
			{ID: "i-1", Owner: "alice"}, {ID: "i-2", Owner: "alice"},
			{ID: "i-3", Owner: "bob"}, {ID: "i-4", Owner: "alice2"},
		} {
			if err := PutInstance(tx, inst); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		owner string
		want  []string
	}{
		{"alice", []string{"i-1", "i-2"}},
		{"bob", []string{"i-3"}},
		{"alice2", []string{"i-4"}},
		{"carol", nil},
	}
	for _, c := range cases {
		t.Run(c.owner, func(t *testing.T) {
			var got []string
			s.View(func(tx Tx) error {
				list, err := ListInstances(tx, c.owner)
				for _, i := range list {
					got = append(got, i.ID)
				}
				return err
			})
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	s.View(func(tx Tx) error {
		if inst, _ := GetInstance(tx, "bob", "i-1"); inst != nil {
			t.Errorf("bob got alice's instance %+v, want nil", inst)
		}
		bobs, err1 := Owns(tx, "bob", "i-1")
		alices, err2 := Owns(tx, "alice", "i-1")
		if bobs || !alices || err1 != nil || err2 != nil {
			t.Errorf("Owns i-1: got bob %v (%v), alice %v (%v); want false, true", bobs, err1, alices, err2)
		}
		return nil
	})
}

func TestTags(t *testing.T) {
	s, _ := openTemp(t)
	s.Update(func(tx Tx) error {
		SetTag(tx, "alice", "i-1", "Name", "web")
		SetTag(tx, "alice", "i-1", "env", "prod")
		SetTag(tx, "alice", "i-10", "Name", "db")
		SetTag(tx, "bob", "i-1", "Name", "not-alices")
		return nil
	})
	s.View(func(tx Tx) error {
		got, _ := Tags(tx, "alice", "i-1")
		if want := []Tag{{"Name", "web"}, {"env", "prod"}}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Tags: got %v, want %v (no bleed from i-10 or bob)", got, want)
		}
		var all []string
		ScanTags(tx, "alice", func(id string, tag Tag) error {
			all = append(all, id+":"+tag.Key)
			return nil
		})
		if want := "[i-1:Name i-1:env i-10:Name]"; fmt.Sprint(all) != want {
			t.Errorf("ScanTags: got %v, want %v", all, want)
		}
		return nil
	})
	s.Update(func(tx Tx) error { return DeleteAllTags(tx, "alice", "i-1") })
	s.View(func(tx Tx) error {
		if got, _ := Tags(tx, "alice", "i-1"); len(got) != 0 {
			t.Errorf("after DeleteAllTags: got %v, want none", got)
		}
		if got, _ := Tags(tx, "alice", "i-10"); len(got) != 1 {
			t.Errorf("DeleteAllTags(i-1) touched i-10: got %v", got)
		}
		return nil
	})
}

func TestUsersAccessKeyIndexFollowsRotation(t *testing.T) {
	s, _ := openTemp(t)
	s.Update(func(tx Tx) error { return PutUser(tx, &User{Name: "alice", AccessKeyID: "AKIAOLD"}) })
	s.Update(func(tx Tx) error { return PutUser(tx, &User{Name: "alice", AccessKeyID: "AKIANEW"}) })
	s.View(func(tx Tx) error {
		if _, err := UserByAccessKey(tx, "AKIAOLD"); !errors.Is(err, ErrNoUser) {
			t.Errorf("old key: got %v, want ErrNoUser", err)
		}
		if u, err := UserByAccessKey(tx, "AKIANEW"); err != nil || u.Name != "alice" {
			t.Errorf("new key: got %v, %v, want alice", u, err)
		}
		return nil
	})
	s.Update(func(tx Tx) error { return DeleteUser(tx, "alice") })
	s.View(func(tx Tx) error {
		if _, err := UserByAccessKey(tx, "AKIANEW"); !errors.Is(err, ErrNoUser) {
			t.Errorf("deleted user's key: got %v, want ErrNoUser", err)
		}
		return nil
	})
}

func TestSchemaVersionMismatchRefused(t *testing.T) {
	s, path := openTemp(t)
	s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(BucketMeta)).Put([]byte(schemaKey), []byte("99"))
	})
	s.Close()
	if _, err := OpenBolt(path, time.Second); err == nil {
		t.Error("got nil error opening a schema-99 store, want refusal")
	}
}

func TestSecondOpenerIsLocked(t *testing.T) {
	_, path := openTemp(t)
	if _, err := OpenBolt(path, 50*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Errorf("got %v, want ErrLocked while another handle holds the file", err)
	}
}

func TestIDs(t *testing.T) {
	id := NewID("i")
	if !ValidID("i", id) || len(id) != 19 {
		t.Errorf("NewID: got %q, want i- and 17 hex digits", id)
	}
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"i-12345678", true}, {"i-0123456789abcdef0", true}, {"i-123", false},
		{"i-0123456789ABCDEF0", false}, {"vol-12345678", false}, {"i-1234567g", false},
	} {
		if got := ValidID("i", c.id); got != c.want {
			t.Errorf("ValidID(%q): got %v, want %v", c.id, got, c.want)
		}
	}
}

// The ledger's keys arrive in order within each owner (OWNER/START/…), so
// its pages are split nearly full: at bbolt's default each page it leaves
// behind stays half empty, and usage_intervals took twice its data.
func TestOrderedBucketPagesAreFull(t *testing.T) {
	st, _ := openTemp(t)
	value := bytes.Repeat([]byte("x"), 200) // an interval's size
	for n := range 200 {
		err := st.Update(func(tx Tx) error {
			for o := range 40 {
				key := fmt.Sprintf("s%03d/%020d/i-%017x", o, 1_796_000_000_000_000_000+n, o*1000+n)
				if err := tx.Put(BucketUsageIntervals, key, value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := st.db.View(func(tx *bolt.Tx) error {
		s := tx.Bucket([]byte(BucketUsageIntervals)).Stats()
		full := float64(s.LeafInuse) / float64(s.LeafPageN*tx.DB().Info().PageSize)
		if full < 0.7 {
			t.Errorf("usage_intervals' leaf pages: got %.0f %% used (%d pages), want at least 70 %%", 100*full, s.LeafPageN)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
