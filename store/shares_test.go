package store

import (
	"fmt"
	"testing"
)

// The index of shares follows each write of a snapshot: shared, changed,
// unshared, deleted.
func TestSharedWithFollowsSnapshots(t *testing.T) {
	s, _ := openTemp(t)
	const a, b = "111111111111", "222222222222"
	const s1, s2 = "snap-00000000000000001", "snap-00000000000000002"
	put := func(sn Snapshot) func(Tx) error { return func(tx Tx) error { return PutSnapshot(tx, &sn) } }
	cases := []struct {
		name   string
		change func(Tx) error
		wantA  string
		wantB  string
	}{
		{"one shared with a", put(Snapshot{ID: s1, Owner: "carol", VolumePermissions: []string{a}}), "map[" + s1 + ":carol]", "map[]"},
		{"another with both", put(Snapshot{ID: s2, Owner: "dave", VolumePermissions: []string{a, b}}), "map[" + s1 + ":carol " + s2 + ":dave]", "map[" + s2 + ":dave]"},
		{"the first moved to b", put(Snapshot{ID: s1, Owner: "carol", VolumePermissions: []string{b}}), "map[" + s2 + ":dave]", "map[" + s1 + ":carol " + s2 + ":dave]"},
		{"the second unshared", put(Snapshot{ID: s2, Owner: "dave"}), "map[]", "map[" + s1 + ":carol]"},
		{"the first deleted", func(tx Tx) error { return DeleteSnapshot(tx, "carol", s1) }, "map[]", "map[]"},
	}
	for _, c := range cases {
		if err := s.Update(c.change); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err := s.View(func(tx Tx) error {
			for account, want := range map[string]string{a: c.wantA, b: c.wantB} {
				got, err := SharedWith(tx, account, "snap-")
				if err != nil {
					return err
				}
				if fmt.Sprint(got) != want {
					t.Errorf("%s: shared with %s: got %v, want %s", c.name, account, got, want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
