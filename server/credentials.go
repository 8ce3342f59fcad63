package server

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
	"sync"

	"github.com/econe/econe-server/keyring"
	"github.com/econe/econe-server/store"
)

// credentials remembers, per access key, the user record as last read and
// what was derived from it: the decoded user and the opened secret. Every
// request still reads the record, so a rotation, a disable or a delete
// applies to the very next request; only the access-key index (a record
// naming the key is that key's user: PutUser keeps the index in step), the
// decoding and the decryption are skipped while the record is the same.
type credentials struct {
	keys *keyring.Keyring
	mu   sync.RWMutex
	byID map[string]*credential
}

type credential struct {
	raw    []byte // the user record this was derived from
	user   store.User
	secret string // empty when the user is disabled
}

func newCredentials(keys *keyring.Keyring) *credentials {
	return &credentials{keys: keys, byID: map[string]*credential{}}
}

// lookup returns the user an access key belongs to and its secret; a
// disabled user comes back with ok false. A key seen before costs one
// ReadMany of its user's record (one statement on PostgreSQL); any other,
// or a changed record, a transaction reading the key's index and record.
func (c *credentials) lookup(st store.Store, accessKeyID string) (user *store.User, secret string, ok bool, err error) {
	c.mu.RLock()
	cred := c.byID[accessKeyID]
	c.mu.RUnlock()
	if cred != nil {
		raw, err := st.ReadMany(store.BucketUsers, []string{cred.user.Name})
		if err != nil {
			return nil, "", false, err
		}
		if !bytes.Equal(raw[0], cred.raw) {
			cred = nil
		}
	}
	if cred == nil {
		err = st.View(func(tx store.Tx) error {
			raw, err := store.UserRecordByAccessKey(tx, accessKeyID)
			if err != nil {
				return err
			}
			cred, err = c.current(accessKeyID, raw)
			return err
		})
	}
	if errors.Is(err, store.ErrNoUser) {
		c.mu.Lock()
		delete(c.byID, accessKeyID)
		c.mu.Unlock()
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	u := cred.user // each request gets its own copy
	return &u, cred.secret, !u.Disabled, nil
}

// remembered is the credential last derived for an enabled access key,
// read from memory only; nil when there is none. Nothing it allows may
// take effect before confirming says the record is still the same.
func (c *credentials) remembered(accessKeyID string) *credential {
	c.mu.RLock()
	cred := c.byID[accessKeyID]
	c.mu.RUnlock()
	if cred == nil || cred.user.Disabled {
		return nil
	}
	return cred
}

// current is the credential derived from raw, reusing the remembered one
// while raw is unchanged. raw is only valid inside the transaction.
func (c *credentials) current(accessKeyID string, raw []byte) (*credential, error) {
	c.mu.RLock()
	cred := c.byID[accessKeyID]
	c.mu.RUnlock()
	if cred != nil && bytes.Equal(cred.raw, raw) {
		return cred, nil
	}
	u, err := store.DecodeUser(raw)
	if err != nil {
		return nil, err
	}
	cred = &credential{raw: bytes.Clone(raw), user: *u}
	if !u.Disabled {
		if cred.secret, err = c.keys.Open(u.AccessKeyID, u.SealedSecret); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	c.byID[accessKeyID] = cred
	c.mu.Unlock()
	return cred, nil
}

// errChanged is what a request's store operations return once its
// remembered credential's record turned out to have changed.
var errChanged = errors.New("server: the user record changed since the request's credential was derived from it")

// confirming is the store of a read-only request authenticated by a
// remembered credential: its first store operation also reads the user
// record, in the same snapshot (in a ViewRefs, on PostgreSQL, in the same
// statement as the action's own reads), and compares it with the one the
// credential came from, so the check costs no round trip of its own. Until
// then nothing is read or written; once the record differs, every
// operation fails with errChanged, and the server authenticates the
// request again from the record.
type confirming struct {
	store.Store
	cred *credential
	mu   sync.Mutex
	// checked is set by the first comparison, same by its result.
	checked, same bool
}

func newConfirming(st store.Store, cred *credential) *confirming {
	return &confirming{Store: st, cred: cred}
}

// state is whether the record was compared yet, and with what result.
func (c *confirming) state() (checked, same bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked, c.same
}

// compare settles the state with the record read (nil when absent); the
// first comparison wins, as a later one would only be of a later snapshot.
func (c *confirming) compare(raw []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.checked {
		c.checked, c.same = true, bytes.Equal(raw, c.cred.raw)
	}
	if !c.same {
		return errChanged
	}
	return nil
}

// before runs ahead of an operation's function: the comparison, in tx,
// unless it is already done.
func (c *confirming) before(tx store.Tx) error {
	if checked, same := c.state(); checked {
		if !same {
			return errChanged
		}
		return nil
	}
	return c.compare(tx.Get(store.BucketUsers, c.cred.user.Name))
}

// confirm compares the record unless an operation did; the server calls
// it before answering, so an action that read nothing is confirmed too.
func (c *confirming) confirm() (same bool, err error) {
	if checked, same := c.state(); checked {
		return same, nil
	}
	raw, err := c.Store.ReadMany(store.BucketUsers, []string{c.cred.user.Name})
	if err != nil {
		return false, err
	}
	return c.compare(raw[0]) == nil, nil
}

// guarded is fn after the comparison.
func (c *confirming) guarded(fn func(store.Tx) error) func(store.Tx) error {
	return func(tx store.Tx) error {
		if err := c.before(tx); err != nil {
			return err
		}
		return fn(tx)
	}
}

func (c *confirming) View(fn func(store.Tx) error) error { return c.Store.View(c.guarded(fn)) }

func (c *confirming) Update(fn func(store.Tx) error) error { return c.Store.Update(c.guarded(fn)) }

func (c *confirming) ReadMany(b store.Bucket, keys []string) ([][]byte, error) {
	if same, err := c.confirm(); err != nil || !same {
		return nil, cmp.Or(err, errChanged)
	}
	return c.Store.ReadMany(b, keys)
}

// ViewRefs reads the user record with refs, until it is confirmed (with
// no refs, it is the View's first read).
func (c *confirming) ViewRefs(refs []store.Ref, fn func(store.Tx) error) error {
	if checked, _ := c.state(); !checked && len(refs) > 0 {
		refs = append(slices.Clip(refs), store.Ref{Bucket: store.BucketUsers, Key: c.cred.user.Name})
	}
	return store.ViewRefs(c.Store, refs, c.guarded(fn))
}
