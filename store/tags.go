package store

import (
	"sort"
	"strings"
)

// Tags are kept apart from the resources they label (OWNER/RESOURCE_ID/KEY),
// so CreateTags works the same for every resource type and DescribeTags is a
// scan of the caller's own prefix.

// Tag is a key/value label on a resource.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

func tagPrefix(owner, resourceID string) string { return owner + "/" + resourceID + "/" }

// SetTag creates or overwrites one tag.
func SetTag(tx Tx, owner, resourceID, key, value string) error {
	return tx.Put(BucketTags, tagPrefix(owner, resourceID)+key, []byte(value))
}

// DeleteTag removes one tag (absent is fine).
func DeleteTag(tx Tx, owner, resourceID, key string) error {
	return tx.Delete(BucketTags, tagPrefix(owner, resourceID)+key)
}

// Tags returns the resource's tags sorted by key.
func Tags(tx Tx, owner, resourceID string) ([]Tag, error) {
	p := tagPrefix(owner, resourceID)
	var out []Tag
	err := tx.Scan(BucketTags, p, func(k string, v []byte) error {
		out = append(out, Tag{Key: k[len(p):], Value: string(v)})
		return nil
	})
	return out, err
}

// TagsRef names the keys Tags reads, for Prefetch.
func TagsRef(owner, resourceID string) Ref {
	return PrefixRef(BucketTags, tagPrefix(owner, resourceID))
}

// TagMap returns the resource's tags as a map.
func TagMap(tx Tx, owner, resourceID string) (map[string]string, error) {
	tags, err := Tags(tx, owner, resourceID)
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m, err
}

// DeleteAllTags removes every tag of a resource.
func DeleteAllTags(tx Tx, owner, resourceID string) error {
	return deletePrefix(tx, BucketTags, tagPrefix(owner, resourceID))
}

// ScanTags calls fn for every tag the user has, ordered by resource id then key.
func ScanTags(tx Tx, owner string, fn func(resourceID string, t Tag) error) error {
	p := OwnerPrefix(owner)
	return tx.Scan(BucketTags, p, func(k string, v []byte) error {
		rest := k[len(p):]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return nil
		}
		return fn(rest[:i], Tag{Key: rest[i+1:], Value: string(v)})
	})
}

// SortTags orders tags by key, the order EC2 lists them in.
func SortTags(tags []Tag) {
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
}
