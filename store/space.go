package store

import "strings"

// Space is one backend's own part of the store: the keys under NAME/ in
// bucket backends, so that a backend persists what it likes without a
// bucket of its own (adding a backend touches no store code). app gives
// each backend the space named after it, through backend.Deps.
type Space struct {
	st     Store
	prefix string
}

// NewSpace is the space of the backend called name (which must not
// contain "/").
func NewSpace(st Store, name string) *Space {
	return &Space{st: st, prefix: name + "/"}
}

// View runs fn in a read-only transaction over the space.
func (s *Space) View(fn func(SpaceTx) error) error {
	return s.st.View(func(tx Tx) error { return fn(s.In(tx)) })
}

// Update runs fn in a read-write transaction over the space (see
// Store.Update: fn may run more than once).
func (s *Space) Update(fn func(SpaceTx) error) error {
	return s.st.Update(func(tx Tx) error { return fn(s.In(tx)) })
}

// ReadMany is Store.ReadMany over the space's keys.
func (s *Space) ReadMany(keys []string) ([][]byte, error) {
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.prefix + k
	}
	return s.st.ReadMany(BucketBackends, full)
}

// In is the space within a caller's transaction (backend.TxLauncher).
func (s *Space) In(tx Tx) SpaceTx { return SpaceTx{tx: tx, prefix: s.prefix} }

// SpaceTx is a transaction over one space; keys are the backend's own.
type SpaceTx struct {
	tx     Tx
	prefix string
}

func (t SpaceTx) Get(key string) []byte { return t.tx.Get(BucketBackends, t.prefix+key) }

func (t SpaceTx) Put(key string, value []byte) error {
	return t.tx.Put(BucketBackends, t.prefix+key, value)
}

// Prefetch is store.Prefetch of the space's keys.
func (t SpaceTx) Prefetch(keys ...string) {
	refs := make([]Ref, len(keys))
	for i, k := range keys {
		refs[i] = Ref{Bucket: BucketBackends, Key: t.prefix + k}
	}
	Prefetch(t.tx, refs...)
}

// Create is store.Create in the space.
func (t SpaceTx) Create(key string, value []byte) (bool, error) {
	return Create(t.tx, BucketBackends, t.prefix+key, value)
}

func (t SpaceTx) Delete(key string) error { return t.tx.Delete(BucketBackends, t.prefix+key) }

// Scan calls fn for each of the space's keys with the prefix, in order.
func (t SpaceTx) Scan(prefix string, fn func(key string, value []byte) error) error {
	return t.tx.Scan(BucketBackends, t.prefix+prefix, func(key string, value []byte) error {
		return fn(strings.TrimPrefix(key, t.prefix), value)
	})
}
