package store

import (
	"slices"
	"testing"
)

func TestListVolumesNaming(t *testing.T) {
	s, _ := openTemp(t)
	const a, b = "i-0000000000000000a", "i-0000000000000000b"
	vols := []*Volume{
		{ID: "vol-00000000000000001", Owner: "alice", Attachment: &VolumeAttachment{InstanceID: a}},
		{ID: "vol-00000000000000002", Owner: "alice", Attachment: &VolumeAttachment{InstanceID: b}},
		{ID: "vol-00000000000000003", Owner: "alice"},
		{ID: "vol-00000000000000004", Owner: "bob", Attachment: &VolumeAttachment{InstanceID: a}},
	}
	err := s.Update(func(tx Tx) error {
		for _, v := range vols {
			if err := PutVolume(tx, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ids  []string
		want []string
	}{
		{"all of alice's", nil, []string{"vol-00000000000000001", "vol-00000000000000002", "vol-00000000000000003"}},
		{"one instance", []string{a}, []string{"vol-00000000000000001"}},
		{"two instances", []string{b, a}, []string{"vol-00000000000000001", "vol-00000000000000002"}},
		{"an instance naming none", []string{"i-0000000000000000c"}, nil},
	}
	for _, c := range cases {
		var got []string
		err := s.View(func(tx Tx) error {
			found, err := ListVolumesNaming(tx, "alice", c.ids)
			for _, v := range found {
				got = append(got, v.ID)
			}
			return err
		})
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.want)
		}
	}
}
