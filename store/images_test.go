package store

import (
	"fmt"
	"testing"
)

// The index of launch permissions follows each write of an image: shared,
// shared differently, deregistered, and its owner purged.
func TestImageGrantsFollowImages(t *testing.T) {
	s, _ := openTemp(t)
	const bob, carol = "222222222222", "333333333333"
	const a1, a2 = "ami-00000000000000001", "ami-00000000000000002"
	put := func(id string, accounts ...string) func(Tx) error {
		return func(tx Tx) error { return PutImage(tx, &Image{ID: id, Owner: "alice", LaunchAccounts: accounts}) }
	}
	cases := []struct {
		name      string
		change    func(Tx) error
		bob, carl string // the image ids each sees shared
	}{
		{"shared with bob", put(a1, bob), "[" + a1 + "]", "[]"},
		{"another with both", put(a2, bob, carol), "[" + a1 + " " + a2 + "]", "[" + a2 + "]"},
		{"the first with carol instead", put(a1, carol), "[" + a2 + "]", "[" + a1 + " " + a2 + "]"},
		{"the second deregistered", func(tx Tx) error { return DeleteImage(tx, "alice", a2) }, "[]", "[" + a1 + "]"},
		{"alice purged", func(tx Tx) error { return PurgeOwner(tx, "alice") }, "[]", "[]"},
	}
	for _, c := range cases {
		if err := s.Update(c.change); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got [2]string
		err := s.View(func(tx Tx) error {
			for i, account := range []string{bob, carol} {
				images, err := ImagesSharedWith(tx, account)
				if err != nil {
					return err
				}
				var ids []string
				for _, im := range images {
					ids = append(ids, im.ID)
				}
				got[i] = fmt.Sprint(ids)
			}
			var left int
			if err := tx.Scan(BucketShares, "", func(string, []byte) error { left++; return nil }); err != nil {
				return err
			}
			if c.bob == "[]" && c.carl == "[]" && left != 0 {
				t.Errorf("%s: got %d index entries left, want none", c.name, left)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != c.bob || got[1] != c.carl {
			t.Errorf("%s: got shared with bob %s, carol %s; want %s, %s", c.name, got[0], got[1], c.bob, c.carl)
		}
	}
}
