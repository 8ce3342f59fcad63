package server

import (
	"bytes"
	"errors"
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
