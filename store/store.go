// Package store is econe-server's persistence: one narrow transactional
// key/value interface (read-only and read-write transactions over named
// buckets, as OpenBao's physical storage has) and typed accessors above it.
//
// Everything that must be atomic — a quota check and the launch it allows, an
// address leaving the pool and its allocation record — happens inside one
// Update. A nil error from Update means the transaction is durable on disk.
// The bbolt implementation lives in bolt.go; a PostgreSQL one can implement
// the same three methods so several replicas share state.
package store

import (
	"errors"
	"fmt"
	"github.com/go-json-experiment/json"
)

// Store runs transactions.
type Store interface {
	// View runs fn in a read-only transaction.
	View(fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it durably if fn
	// returns nil. fn may be called more than once (concurrent updates are
	// batched and a failed batch is retried one by one), so it must not have
	// effects outside the transaction.
	Update(fn func(Tx) error) error
	Close() error
}

// Tx is one transaction. Keys within a bucket are ordered bytewise.
type Tx interface {
	// Get returns the value, or nil when absent. The slice is valid only
	// until the transaction ends.
	Get(b Bucket, key string) []byte
	Put(b Bucket, key string, value []byte) error
	Delete(b Bucket, key string) error
	// Scan calls fn for each key with the prefix, in key order, until fn
	// returns an error (ErrStop ends the scan without error).
	Scan(b Bucket, prefix string, fn func(key string, value []byte) error) error
	// Writable reports whether Put and Delete are allowed.
	Writable() bool
}

// ErrStop ends a Scan early without an error.
var ErrStop = errors.New("stop scan")

// GetJSON decodes the value at key into v; found is false when absent.
func GetJSON(tx Tx, b Bucket, key string, v any) (found bool, err error) {
	raw := tx.Get(b, key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("store: decode %s/%s: %w", b, key, err)
	}
	return true, nil
}

// PutJSON encodes v at key.
func PutJSON(tx Tx, b Bucket, key string, v any) error {
	raw, err := Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s/%s: %w", b, key, err)
	}
	return tx.Put(b, key, raw)
}

// Marshal encodes a record the way PutJSON does, for callers that encode
// before their transaction to keep the work out of the shared commit.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// ScanJSON decodes every value with the prefix as a T and calls fn.
func ScanJSON[T any](tx Tx, b Bucket, prefix string, fn func(key string, v *T) error) error {
	return tx.Scan(b, prefix, func(key string, raw []byte) error {
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("store: decode %s/%s: %w", b, key, err)
		}
		return fn(key, v)
	})
}

// deletePrefix deletes every key with the prefix. Keys are collected first:
// a bucket must not change under its own cursor.
func deletePrefix(tx Tx, b Bucket, prefix string) error {
	var keys []string
	if err := tx.Scan(b, prefix, func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(b, k); err != nil {
			return err
		}
	}
	return nil
}

// Owned resources are keyed "OWNER/ID", so a student's listing is a prefix
// scan over their own records only, and another student's id is simply not
// found: isolation by construction, not by a check someone can forget.

// OwnedKey is the key of a resource owned by a user.
func OwnedKey(owner, id string) string { return owner + "/" + id }

// OwnerPrefix is the scan prefix of all of a user's resources in a bucket.
func OwnerPrefix(owner string) string { return owner + "/" }

// GetOwned loads the user's resource id from bucket b; nil when absent.
func GetOwned[T any](tx Tx, b Bucket, owner, id string) (*T, error) {
	v := new(T)
	found, err := GetJSON(tx, b, OwnedKey(owner, id), v)
	if err != nil || !found {
		return nil, err
	}
	return v, nil
}

// PutOwned stores the user's resource id in bucket b.
func PutOwned(tx Tx, b Bucket, owner, id string, v any) error {
	return PutJSON(tx, b, OwnedKey(owner, id), v)
}

// DeleteOwned removes the user's resource id from bucket b, and its tags.
func DeleteOwned(tx Tx, b Bucket, owner, id string) error {
	if err := tx.Delete(b, OwnedKey(owner, id)); err != nil {
		return err
	}
	return DeleteAllTags(tx, owner, id)
}

// ListOwned returns all of the user's resources in bucket b, in id order.
func ListOwned[T any](tx Tx, b Bucket, owner string) ([]*T, error) {
	var out []*T
	err := ScanJSON(tx, b, OwnerPrefix(owner), func(_ string, v *T) error {
		out = append(out, v)
		return nil
	})
	return out, err
}
