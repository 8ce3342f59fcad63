package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// ResourceType describes one kind of taggable resource: its id prefix, the
// name EC2 uses for it in DescribeTags' resourceType, and the bucket that
// holds it keyed OWNER/ID.
type ResourceType struct {
	Prefix string
	Name   string
	Bucket Bucket
}

// ResourceTypes lists every kind of resource a student owns.
var ResourceTypes = []ResourceType{
	{"i-", "instance", BucketInstances},
	{"vol-", "volume", BucketVolumes},
	{"snap-", "snapshot", BucketSnapshots},
	{"sg-", "security-group", BucketSecurityGroups},
	// A rule lives in its group's record, not under its own key.
	{"sgr-", "security-group-rule", BucketSecurityGroups},
	{"key-", "key-pair", BucketKeyPairs},
	{"eipalloc-", "elastic-ip", BucketAddresses},
	{"lt-", "launch-template", BucketLaunchTemplates},
	{"ami-", "image", BucketImages},
	{"vpc-", "vpc", BucketVPCs},
	{"subnet-", "subnet", BucketSubnets},
	{"igw-", "internet-gateway", BucketInternetGateways},
	{"rtb-", "route-table", BucketRouteTables},
	{"pl-", "prefix-list", BucketPrefixLists},
	{"eni-", "network-interface", BucketNetworkInterfaces},
}

// ResourceTypeOf returns the type of a resource id by its prefix.
func ResourceTypeOf(id string) (ResourceType, bool) {
	for _, rt := range ResourceTypes {
		if strings.HasPrefix(id, rt.Prefix) {
			return rt, true
		}
	}
	return ResourceType{}, false
}

// Owns reports whether the user owns the resource id.
func Owns(tx Tx, owner, id string) (bool, error) {
	rt, ok := ResourceTypeOf(id)
	switch {
	case !ok:
		return false, nil
	case rt.Name == "security-group-rule":
		g, err := GroupOfRule(tx, owner, id)
		return g != nil, err
	}
	return tx.Get(rt.Bucket, OwnedKey(owner, id)) != nil, nil
}

// NewID returns a fresh EC2-style id: prefix-<17 hex digits>, as current EC2
// ids look (i-0123456789abcdef0).
func NewID(prefix string) string {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return prefix + "-" + hex.EncodeToString(b[:])[:17]
}

// DerivedID returns the EC2-style id that parts name, always the same one:
// a hash, so it looks like any other id and no caller can pick it.
func DerivedID(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + "-" + hex.EncodeToString(h.Sum(nil))[:17]
}

// ValidID reports whether id has the prefix and an 8- or 17-digit hex suffix,
// the two forms EC2 has used.
func ValidID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"-")
	if !ok || (len(rest) != 8 && len(rest) != 17) {
		return false
	}
	for _, c := range rest {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
