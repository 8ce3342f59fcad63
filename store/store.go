// Package store is econe-server's persistence: one narrow transactional
// key/value interface (read-only and read-write transactions over named
// buckets, as OpenBao's physical storage has) and typed accessors above it.
//
// Everything that must be atomic — a quota check and the launch it allows, an
// address leaving the pool and its allocation record — happens inside one
// Update. The bbolt implementation lives in bolt.go; a PostgreSQL one can
// implement the same interface so several replicas share state.
//
// Contract for implementations (store/storetest checks every rule; an
// implementation's tests call storetest.Run):
//
// Transactions
//   - Update MUST behave as if every update function ran alone, one after
//     another, in some order consistent with real time (serializable): a
//     function that reads, checks and writes can never interleave with
//     another's write, whatever keys or prefix scans it read. A store that
//     runs concurrent functions truly in parallel (PostgreSQL) MUST use
//     SERIALIZABLE isolation, not snapshot isolation, which lets two
//     functions each read what the other then changes (write skew).
//   - Update MAY run its function more than once, before or after it
//     returned an error; the outcome of the last run is the one committed
//     (or returned). Every run starts from a transaction holding none of
//     the writes of earlier runs, and a run MAY be abandoned at any call of
//     its Tx (PostgreSQL's group commit runs each function up to its first
//     call, to read what it prefetches for the whole group). So a function
//     MUST NOT have effects outside the transaction, nor hold a lock across
//     a Tx call unless a defer releases it, and it reports results through
//     variables it assigns on every run. Group commit (bbolt,
//     groupcommit.go) runs the functions that arrive together in one
//     transaction, one after the other; when one fails, the transaction
//     is rolled back, the failing function runs again alone and its own
//     outcome is returned, and the others run again without it. PostgreSQL (store/postgres,
//     groupcommit.go) also runs the functions waiting for a turn in one
//     SERIALIZABLE transaction, each behind a SAVEPOINT: one that fails is
//     rolled back to it alone, and the functions after it see the
//     transaction without it; its error is returned once the others
//     committed. After a serialization failure or deadlock (SQLSTATE 40001,
//     40P01) the group runs again in halves, down to functions alone, each
//     run again with jittered backoff and a bound.
//   - When fn returns an error, Update MUST roll back everything fn wrote
//     and return that error value unchanged (not wrapped), so errors.Is and
//     == work. Errors of the store itself (a failed commit) are its own;
//     when a commit's outcome is unknown (PostgreSQL: the connection was
//     lost during COMMIT), the error MUST say so.
//   - A panic in fn MUST reach Update's caller, with the same value, after
//     the transaction is rolled back; the store stays usable. The same
//     holds for View.
//   - When Update returns nil, fn's writes MUST be durable (fsync'd, or
//     committed with synchronous_commit on) and visible to every View and
//     Update that starts afterwards, in this process or another opening
//     the same data, even if this process is killed at once.
//   - View MUST see one consistent snapshot: the writes of the updates
//     committed before it started and none of any other, however long it
//     runs. A View MUST NOT wait for an update in progress (an update may
//     wait for Views: bbolt grows its file only when none is open), and an
//     update's writes are invisible outside its transaction until it commits.
//   - A function MUST NOT call View, Update or ReadMany itself (it may
//     deadlock), and MUST NOT use its Tx after returning or from another
//     goroutine.
//   - UpdateAfter (the Gated interface, optional) is Update whose commit
//     waits for a condition: it MUST NOT commit before wait returned nil,
//     and when wait returns an error it MUST commit nothing of fn and
//     return that error unchanged. It calls wait after fn succeeded, so
//     that the two overlap, and MAY call it more than once; wait MUST NOT
//     wait for a store update. After wraps a Store in one condition
//     (waiting first where the store is not Gated).
//   - ViewRefs(st, refs, fn) is a View of fn that begins with
//     Prefetch(tx, refs...), except that fn MAY be run twice and so must
//     assign its results on every run: a store that implements RefViewer
//     may read refs alone first (PostgreSQL: in one statement, which sees
//     one snapshot without BEGIN and COMMIT), run fn over what it read,
//     and when fn reads anything else, run it again in a View. Each run
//     sees one snapshot, and only the last run's outcome counts.
//   - ReadMany is a View of one GetMany in one call: the same snapshot
//     rule, and values the caller may keep and modify. It is for the
//     hottest reads that need nothing else, where a View's BEGIN and
//     COMMIT would cost PostgreSQL two more round trips than the read.
//   - After Close, View, Update and ReadMany MUST return an error wrapping
//     ErrClosed. Close waits for updates already accepted; calling it
//     again returns nil.
//
// Keys and values
//   - Every bucket in Buckets exists in every store; using another is a
//     programming error, and the implementation MAY panic.
//   - Keys are arbitrary non-empty byte strings (0x00, 0xff and invalid
//     UTF-8 included), ordered bytewise as bytes.Compare orders them: a
//     PostgreSQL key column is bytea (text cannot hold 0x00). Keys of up to
//     1,024 bytes and values of up to 1 MiB MUST be accepted; Put with an
//     empty key MUST return an error.
//   - Get returns nil exactly when the key is absent. A stored empty value
//     (Put of nil or of []byte{}) reads as a non-nil, empty slice, in the
//     transaction that wrote it and later; typed accessors rely on this
//     (a free pool address is an empty value).
//   - Values a Tx returns (from Get, and those Scan passes) are valid until
//     the transaction ends, and MUST NOT be modified (bbolt maps the file
//     read-only): callers copy what they keep. Put MUST NOT keep the slice
//     it is given: the caller may reuse it as soon as Put returns.
//   - Put and Delete in a View's transaction MUST return an error and
//     change nothing. Delete of an absent key succeeds.
//   - GetMany returns, for each of its keys in order, exactly what Get
//     would (nil when absent, a non-nil empty slice for an empty value,
//     this transaction's own writes included), for any number of keys,
//     repeated ones included. It is for a caller that knows every key it
//     needs: a PostgreSQL implementation reads them in one statement
//     instead of a round trip per key.
//   - Prefetch(tx, refs...) is a hint that the function is about to Get
//     those keys (or Scan those prefixes, PrefixRef); a Tx that implements
//     Prefetcher may read them together. Get and Scan MUST then return
//     exactly what they would have without the hint, the transaction's
//     own writes (before or after it) included.
//   - A store MAY send Puts and Deletes later in the transaction (the
//     PostgreSQL one: with its next statement or with COMMIT); a write the
//     database refuses then fails the Update, not the Put.
//
// Scan
//   - Scan visits every key with the prefix, once, in bytewise order; the
//     empty prefix visits the whole bucket. It stops at the first error the
//     callback returns and returns it unchanged; ErrStop (or an error
//     wrapping it) stops it and Scan returns nil.
//   - Inside the callback the transaction MAY be read anywhere (Get, a
//     nested Scan, even of the same bucket), and written in other buckets.
//     Put and Delete in the bucket being scanned MUST return an error and
//     change nothing: collect the keys, and write after Scan returns
//     (deletePrefix does). A PostgreSQL implementation may therefore read
//     a prefix in pages, each read whole before its callbacks run.
package store

import (
	"errors"
	"fmt"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Store runs transactions. See the package documentation for the contract.
type Store interface {
	// View runs fn in a read-only transaction over a consistent snapshot
	// and returns fn's error unchanged.
	View(fn func(Tx) error) error
	// Update runs fn in a read-write transaction, serializably, and commits
	// it durably if fn returns nil; otherwise it rolls back and returns
	// fn's error unchanged. fn may be run more than once (concurrent updates
	// share a commit, and a failing one is run again alone), so it must not
	// have effects outside the transaction.
	Update(fn func(Tx) error) error
	// ReadMany returns what a View of one GetMany of the keys would, in
	// values the caller owns (a PostgreSQL store sends it as one
	// statement, without BEGIN and COMMIT).
	ReadMany(b Bucket, keys []string) ([][]byte, error)
	// Close waits for accepted updates, then releases the store; later
	// calls of View, Update and ReadMany return ErrClosed.
	Close() error
}

// Tx is one transaction. Keys within a bucket are ordered bytewise.
type Tx interface {
	// Get returns the value, or nil when absent (a stored empty value is a
	// non-nil empty slice). The slice is read-only and valid only until the
	// transaction ends.
	Get(b Bucket, key string) []byte
	// GetMany returns what Get returns for each key, in the keys' order.
	GetMany(b Bucket, keys []string) [][]byte
	// Put stores a copy of value at the non-empty key.
	Put(b Bucket, key string, value []byte) error
	// Delete removes the key; an absent key is no error.
	Delete(b Bucket, key string) error
	// Scan calls fn for each key with the prefix, in key order, until fn
	// returns an error (ErrStop ends the scan without error). fn may read
	// anything and write other buckets, but not b.
	Scan(b Bucket, prefix string, fn func(key string, value []byte) error) error
	// Writable reports whether Put and Delete are allowed.
	Writable() bool
}

// Ref names a key of a bucket or, with Prefix, the keys a Scan of Key as
// a prefix visits; with Then too, the prefix is of an index whose keys
// name records of bucket Then: at ThenPrefix followed by the rest of each
// index key after the prefix (IndexRef).
type Ref struct {
	Bucket     Bucket
	Key        string
	Prefix     bool
	Then       Bucket
	ThenPrefix string
}

// PrefixRef names the keys of bucket b with the prefix, for Prefetch.
func PrefixRef(b Bucket, prefix string) Ref { return Ref{Bucket: b, Key: prefix, Prefix: true} }

// IndexRef names the keys of index bucket b with the prefix and the
// records of bucket then they name (at thenPrefix + the rest of each key),
// for Prefetch.
func IndexRef(b Bucket, prefix string, then Bucket, thenPrefix string) Ref {
	return Ref{Bucket: b, Key: prefix, Prefix: true, Then: then, ThenPrefix: thenPrefix}
}

// Prefetcher is a Tx that reads keys of several buckets at once (the
// PostgreSQL one: in one round trip instead of one per key).
type Prefetcher interface {
	Prefetch(refs []Ref)
}

// Prefetch tells tx that the function is about to Get (or Scan) refs, so that a
// Prefetcher reads them together. What the function sees is unchanged: a
// Get returns what it would have without the hint, own writes included.
func Prefetch(tx Tx, refs ...Ref) {
	if p, ok := tx.(Prefetcher); ok {
		p.Prefetch(refs)
	}
}

// Creator is a Tx that writes a key only when it is absent, and says
// whether it did, without reading it (the PostgreSQL one: an INSERT that
// does nothing when the key exists).
type Creator interface {
	Create(b Bucket, key string, value []byte) (bool, error)
}

// Create writes value at key when the key is absent and reports whether
// it did; when it is present nothing changes, and a caller that needs its
// value Gets it. It is a Get and a Put, as if run one at a time, like the
// rest of the update; a Creator does it without a read: on PostgreSQL the
// read of an absent key locks the index page where it would be, and
// concurrent updates writing their own keys there then abort each other
// (40001), where the INSERT's unique check takes no such lock and a
// concurrent update creating the same key is a serialization failure.
// There a key found present is not locked either, so an update freeing it
// at the same time may go unseen: use it for claims of one key of many
// (addresses), where that only means taking another, and Get a key found
// present whose value matters.
func Create(tx Tx, b Bucket, key string, value []byte) (bool, error) {
	if c, ok := tx.(Creator); ok {
		return c.Create(b, key, value)
	}
	if tx.Get(b, key) != nil {
		return false, nil
	}
	return true, tx.Put(b, key, value)
}

// PageReleaser is a Store whose reads leave the pages of its file mapped
// in the process (bbolt reads through one shared map of the whole file),
// and which can unmap them.
type PageReleaser interface {
	ReleasePages() error
}

// ReleasePages unmaps the pages st's reads left mapped, when it can: after
// a pass that read the whole store, so that the process's RSS counts the
// pages read since rather than the file. The data is unchanged.
func ReleasePages(st Store) error {
	if r, ok := st.(PageReleaser); ok {
		return r.ReleasePages()
	}
	return nil
}

// RefViewer is a Store that can run a View over keys it read beforehand
// (see ViewRefs).
type RefViewer interface {
	ViewRefs(refs []Ref, fn func(Tx) error) error
}

// ViewRefs runs fn in a View that begins with Prefetch(tx, refs...); fn
// may be run twice (see the package documentation).
func ViewRefs(st Store, refs []Ref, fn func(Tx) error) error {
	if v, ok := st.(RefViewer); ok && len(refs) > 0 {
		return v.ViewRefs(refs, fn)
	}
	return st.View(func(tx Tx) error {
		Prefetch(tx, refs...)
		return fn(tx)
	})
}

// ErrStop ends a Scan early without an error.
var ErrStop = errors.New("stop scan")

// GetJSON decodes the value at key into v; found is false when absent.
func GetJSON(tx Tx, b Bucket, key string, v any) (found bool, err error) {
	raw := tx.Get(b, key)
	if raw == nil {
		return false, nil
	}
	return true, decode(b, key, raw, v)
}

// decodeOptions skip checking a record's member names for duplicates,
// which costs about as much as the rest of its decoding (4.5 against
// 7.4 µs for an instance): every record is written by Marshal, which
// never repeats one.
var decodeOptions = jsontext.AllowDuplicateNames(true)

// decode decodes the record raw at key of bucket b into v.
func decode(b Bucket, key string, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v, decodeOptions); err != nil {
		return fmt.Errorf("store: decode %s/%s: %w", b, key, err)
	}
	if r, ok := v.(Keyed); ok {
		r.FromKey(key)
	}
	return nil
}

// Keyed is a record that leaves out of its value what its key (or a
// default) says: every decode here calls FromKey after the JSON.
type Keyed interface{ FromKey(key string) }

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
// Records are JSON v2: a number or bool field left out when zero is tagged
// omitzero (omitempty leaves out only "", empty slices, maps and objects).
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// ScanJSON decodes every value with the prefix as a T and calls fn.
func ScanJSON[T any](tx Tx, b Bucket, prefix string, fn func(key string, v *T) error) error {
	return tx.Scan(b, prefix, func(key string, raw []byte) error {
		v := new(T)
		if err := decode(b, key, raw, v); err != nil {
			return err
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

// GetManyOwned loads the user's resources ids from bucket b in one read
// (Tx.GetMany), in the ids' order; an absent one is nil.
func GetManyOwned[T any](tx Tx, b Bucket, owner string, ids []string) ([]*T, error) {
	return getManyOwned(tx, b, owner, ids, func(key string, raw []byte) (*T, error) {
		v := new(T)
		return v, decode(b, key, raw, v)
	})
}

// getManyOwned is GetManyOwned with its records decoded by dec.
func getManyOwned[T any](tx Tx, b Bucket, owner string, ids []string, dec func(key string, raw []byte) (*T, error)) ([]*T, error) {
	if len(ids) == 0 {
		// most instances have no volume or interface records: no read,
		// not even the bucket's opening (a search of bbolt's root)
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = OwnedKey(owner, id)
	}
	out := make([]*T, len(ids))
	for i, raw := range tx.GetMany(b, keys) {
		if raw == nil {
			continue
		}
		v, err := dec(keys[i], raw)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
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
