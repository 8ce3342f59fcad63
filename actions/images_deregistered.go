package actions

import (
	"fmt"
	"strings"

	"github.com/econe/econe-server/store"
)

// A deregistered image's id answers DescribeImages with an empty list, not
// InvalidAMIID.NotFound, while something of the caller's still refers to
// it: an instance launched from it that describes still show, or a
// snapshot CreateImage made for it. EC2's reference for DescribeImages:
// recently deregistered images "return empty results. After all instances
// that reference a deregistered AMI are terminated, specifying the ID of
// the image will eventually return an error". Reading the references
// rather than keeping a tombstone needs no record of its own, so every
// replica answers alike, and the id becomes unknown once the student has
// let go of what refers to it.

// imageSnapshotPrefix starts the description EC2 gives the snapshots
// CreateImage makes: "Created by CreateImage(i-…) for ami-… from vol-…".
const imageSnapshotPrefix = "Created by CreateImage("

func imageSnapshotDescription(instanceID, imageID, volumeID string) string {
	return fmt.Sprintf("%s%s) for %s from %s", imageSnapshotPrefix, instanceID, imageID, volumeID)
}

// imageOfSnapshot is the image a CreateImage snapshot was made for ("" for
// any other snapshot).
func imageOfSnapshot(description string) string {
	rest, ok := strings.CutPrefix(description, imageSnapshotPrefix)
	if !ok {
		return ""
	}
	if _, rest, ok = strings.Cut(rest, ") for "); !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, " from ")
	return id
}

// unreferenced returns those of ids, none of them an image the caller
// sees, that nothing of the caller's refers to: the ones not found.
func (s *Service) unreferenced(r *Request, ids []string) ([]string, error) {
	insts, _, err := s.loadInstances(r, nil) // as describes show them now
	if err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	for _, inst := range insts {
		refs[inst.ImageID] = true
	}
	err = s.Store.View(func(tx store.Tx) error {
		snaps, err := store.ListSnapshots(tx, r.User.Name)
		for _, sn := range snaps {
			refs[imageOfSnapshot(sn.Description)] = true
		}
		return err
	})
	var out []string
	for _, id := range ids {
		if !refs[id] {
			out = append(out, id)
		}
	}
	return out, err
}
