package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrLocked means another process (normally the running server) holds the
// database; admin commands then go through the server's admin socket.
var ErrLocked = errors.New("store: database is in use by another process")

// Bolt is the bbolt implementation of Store.
type Bolt struct {
	db      *bolt.DB
	commits *groupCommit
}

// OpenBolt opens (creating if needed) the database file, creates missing
// buckets and checks the schema version. It waits at most lockWait for
// another process to release the file.
func OpenBolt(path string, lockWait time.Duration) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// The freelist is rebuilt from the pages at open instead of being
	// written on every commit: less to write and fsync per commit, the
	// same durability for the data (NoSync stays off).
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range Buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte(BucketMeta))
		switch v := meta.Get([]byte(schemaKey)); {
		case v == nil:
			return meta.Put([]byte(schemaKey), []byte(SchemaVersion))
		case string(v) != SchemaVersion && !slices.Contains(olderVersions, string(v)):
			return fmt.Errorf("store: %s has schema version %s, this econe-server reads %s", path, v, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Bolt{db: db, commits: newGroupCommit(db)}, nil
}

func (s *Bolt) View(fn func(Tx) error) error {
	began := false
	err := s.db.View(func(tx *bolt.Tx) error {
		began = true
		return fn(&boltTx{tx: tx})
	})
	if !began && errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// ReleasePages unmaps the file's pages from the process (madvise
// MADV_DONTNEED on bbolt's read-only shared map): they stay in the page
// cache, and the next read of one maps it again (a minor fault). The read
// transaction keeps the map where it is meanwhile (bbolt remaps only when
// no transaction holds it); DB.Info's Data is the map's address.
func (s *Bolt) ReleasePages() error {
	return s.db.View(func(tx *bolt.Tx) error {
		return releaseMap(s.db.Info().Data, tx.Size())
	})
}

// ReadMany is a View of one GetMany, its values copied out of the map.
func (s *Bolt) ReadMany(b Bucket, keys []string) ([][]byte, error) {
	var out [][]byte
	err := s.View(func(tx Tx) error {
		out = tx.GetMany(b, keys)
		for i, v := range out {
			out[i] = bytes.Clone(v) // nil stays nil, empty stays empty
		}
		return nil
	})
	return out, err
}

// Update joins the next group commit (see groupcommit.go).
func (s *Bolt) Update(fn func(Tx) error) error { return s.commits.Update(nil, fn) }

// UpdateAfter joins the next group commit, whose commit waits for wait
// after every function of the batch ran.
func (s *Bolt) UpdateAfter(wait func() error, fn func(Tx) error) error {
	return s.commits.Update(wait, fn)
}

// Close commits queued updates, then closes the file.
func (s *Bolt) Close() error {
	s.commits.close()
	return s.db.Close()
}

// boltTx is one function's view of a bbolt transaction.
type boltTx struct {
	tx *bolt.Tx
	// scanning counts the Scans in progress per bucket: bbolt's cursor
	// would skip or repeat keys if its bucket changed under it.
	scanning map[Bucket]int
	// opened are the buckets this transaction has opened: bbolt finds a
	// bucket by a search of the root on every Tx.Bucket in a read
	// transaction, and a describe opens each of several buckets repeatedly.
	opened []openedBucket
	first  [6]openedBucket // opened's first array: no allocation for a few
	// counters are the owners' counters the function decoded or wrote
	// (countersMemo); a write of their key forgets them.
	counters map[string]Counters
	// pools is the committer's memo of a full launch pool; nil in a View.
	pools *fullPoolMemo
}

// fullPoolMemo remembers the launch pool a committed claim found full
// (fullPools). This process is the file's one writer, so every address
// freed is a Delete here: each one bumps freed, and the memo holds only
// while freed is what it was when the pool was read full (a Delete rolled
// back forgets it too). A transaction that found the pool full and was
// rolled back never tells it.
type fullPoolMemo struct {
	mu    sync.Mutex
	freed uint64
	full  *string // the full pool's first address (its slice's identity); nil: none
	n     int
	at    uint64 // freed when full was read
}

func (t *boltTx) poolFull(pool []string) bool {
	m := t.pools
	if m == nil || len(pool) == 0 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.full == &pool[0] && m.n == len(pool) && m.at == m.freed
}

func (t *boltTx) foundFull(pool []string) {
	m := t.pools
	if m == nil || len(pool) == 0 {
		return
	}
	m.mu.Lock()
	at := m.freed
	m.mu.Unlock()
	t.tx.OnCommit(func() { // a Delete since the read left freed past at
		m.mu.Lock()
		m.full, m.n, m.at = &pool[0], len(pool), at
		m.mu.Unlock()
	})
}

func (t *boltTx) countersMemo() map[string]Counters {
	if t.counters == nil {
		t.counters = map[string]Counters{}
	}
	return t.counters
}

// forget drops what the memos keep of key, about to be written.
func (t *boltTx) forget(b Bucket, key string) {
	if b == BucketCounters {
		delete(t.counters, key)
	}
}

type openedBucket struct {
	name Bucket
	bk   *bolt.Bucket
}

func (t *boltTx) bucket(b Bucket) *bolt.Bucket {
	for _, o := range t.opened {
		if o.name == b {
			return o.bk
		}
	}
	bk := t.tx.Bucket([]byte(b))
	if bk == nil {
		// Every bucket is created at open; a missing one is a programming error.
		panic("store: undeclared bucket " + string(b))
	}
	if t.opened == nil {
		t.opened = t.first[:0]
	}
	t.opened = append(t.opened, openedBucket{b, bk})
	return bk
}

func (t *boltTx) Get(b Bucket, key string) []byte { return t.bucket(b).Get([]byte(key)) }

// GetMany reads the keys one by one: from the memory map that costs no
// more than one read of them all.
func (t *boltTx) GetMany(b Bucket, keys []string) [][]byte {
	bk := t.bucket(b)
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = bk.Get([]byte(k))
	}
	return out
}

// Put copies value: bbolt keeps the caller's slice until the commit, and
// reads a nil value back as absent within the transaction.
func (t *boltTx) Put(b Bucket, key string, value []byte) error {
	if err := t.writable(b); err != nil {
		return err
	}
	t.forget(b, key)
	bk := t.bucket(b)
	if f, ok := fillPercent[b]; ok {
		bk.FillPercent = f
	}
	return bk.Put([]byte(key), append([]byte{}, value...))
}

// fillPercent is how full bbolt fills the left page when it splits one, for
// the buckets where each owner's keys arrive in order (OWNER/START/…): new
// keys land at the end of an owner's range, so the left page is never
// written again and bbolt's default (half) would leave it half empty for
// good. The rest keeps the default, right for keys in random order.
var fillPercent = map[Bucket]float64{BucketUsageIntervals: 0.9}

func (t *boltTx) Delete(b Bucket, key string) error {
	if err := t.writable(b); err != nil {
		return err
	}
	t.forget(b, key)
	if b == BucketLaunchAddresses && t.pools != nil {
		t.pools.mu.Lock()
		t.pools.freed++
		t.pools.mu.Unlock()
	}
	return t.bucket(b).Delete([]byte(key))
}

func (t *boltTx) writable(b Bucket) error {
	if t.scanning[b] > 0 {
		return fmt.Errorf("store: write to bucket %s during a Scan of it", b)
	}
	return nil
}

func (t *boltTx) Writable() bool { return t.tx.Writable() }

func (t *boltTx) Scan(b Bucket, prefix string, fn func(string, []byte) error) error {
	c := t.bucket(b).Cursor()
	if t.scanning == nil {
		t.scanning = map[Bucket]int{}
	}
	t.scanning[b]++
	defer func() { t.scanning[b]-- }()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(string(k), v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}
