// Package admin is the administrator's side of econe-server: user
// management over the store. The same operations run in-process when the
// server is stopped, or inside the running server behind its admin socket
// (bbolt has one writer: the server), so both paths share this code.
package admin

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/keyring"
	"github.com/econe/econe-server/store"
)

// Users manages students.
type Users struct {
	Store store.Store
	Keys  *keyring.Keyring
	Clock func() time.Time
	// Config gives the quota defaults and groups; nil: conf.Default().
	Config *conf.Config
	// Instances carries out stop-all; nil where only users are managed.
	Instances Stopper
}

// Credentials are a user's keys, shown once at creation or rotation.
type Credentials struct {
	Name            string `json:"name"`
	Group           string `json:"group"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// UserInfo is what `user list` and `user show` print: never the secret.
type UserInfo struct {
	Name        string    `json:"name"`
	Group       string    `json:"group"`
	AccountID   string    `json:"account_id"`
	AccessKeyID string    `json:"access_key_id"`
	Disabled    bool      `json:"disabled"`
	Created     time.Time `json:"created"`
	KeyRotated  time.Time `json:"key_rotated"`
}

// Errors a CLI reports to the admin as they are.
var (
	ErrExists   = errors.New("user already exists")
	ErrNotFound = errors.New("no such user")
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// ValidName checks a user or group name.
func ValidName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid %s name %q: use 1-64 characters, a lower-case letter first, then lower-case letters, digits, '_' or '-'", kind, name)
	}
	return nil
}

func (u *Users) now() time.Time {
	if u.Clock == nil {
		return time.Now().UTC()
	}
	return u.Clock().UTC()
}

// Add creates a user with fresh credentials.
func (u *Users) Add(name, group string) (*Credentials, error) {
	if err := ValidName("user", name); err != nil {
		return nil, err
	}
	if group != "" {
		if err := ValidName("group", group); err != nil {
			return nil, err
		}
	}
	akid, secret := newAccessKeyID(), newSecret()
	now := u.now()
	rec := &store.User{
		Name: name, Group: group, AccountID: newAccountID(),
		AccessKeyID: akid, SealedSecret: u.Keys.Seal(akid, secret),
		Created: now, KeyRotated: now,
	}
	err := u.Store.Update(func(tx store.Tx) error {
		if _, err := store.GetUser(tx, name); err == nil {
			return ErrExists
		} else if !errors.Is(err, store.ErrNoUser) {
			return err
		}
		return store.PutUser(tx, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	return &Credentials{Name: name, Group: group, AccessKeyID: akid, SecretAccessKey: secret}, nil
}

// RotateKey replaces the user's key; the old one stops working at commit.
func (u *Users) RotateKey(name string) (*Credentials, error) {
	akid, secret := newAccessKeyID(), newSecret()
	var group string
	err := u.modify(name, func(rec *store.User) {
		rec.AccessKeyID = akid
		rec.SealedSecret = u.Keys.Seal(akid, secret)
		rec.KeyRotated = u.now()
		group = rec.Group
	})
	if err != nil {
		return nil, err
	}
	return &Credentials{Name: name, Group: group, AccessKeyID: akid, SecretAccessKey: secret}, nil
}

// SetDisabled disables or enables a user; a disabled user's requests fail
// with AuthFailure.
func (u *Users) SetDisabled(name string, disabled bool) error {
	return u.modify(name, func(rec *store.User) { rec.Disabled = disabled })
}

func (u *Users) modify(name string, change func(*store.User)) error {
	err := u.Store.Update(func(tx store.Tx) error {
		rec, err := userRecord(tx, name)
		if err != nil {
			return err
		}
		change(rec)
		return store.PutUser(tx, rec)
	})
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	return nil
}

// Delete removes a user and everything they own. It refuses while they
// hold anything a backend keeps or that costs money — an instance not yet
// terminated, a volume, a snapshot, an elastic IP — so that no machine or
// disk is left running without an owner. Their keypairs, security groups,
// tags and terminated instances go with them: a student created later
// under the same name starts clean.
func (u *Users) Delete(name string) error {
	err := u.Store.Update(func(tx store.Tx) error {
		if _, err := userRecord(tx, name); err != nil {
			return err
		}
		for _, rt := range store.ResourceTypes {
			if !blocksDelete(rt) {
				continue
			}
			live := false
			if err := tx.Scan(rt.Bucket, store.OwnerPrefix(name), func(_ string, raw []byte) error {
				live = !isTerminated(rt, raw)
				if live {
					return store.ErrStop
				}
				return nil
			}); err != nil {
				return err
			}
			if live {
				return fmt.Errorf("%w: user still owns a %s; terminate, delete or release it first", ErrInUse, rt.Name)
			}
		}
		if err := store.PurgeOwner(tx, name); err != nil {
			return err
		}
		return store.DeleteUser(tx, name)
	})
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	return nil
}

// ErrInUse means the user still owns resources.
var ErrInUse = errors.New("user has resources")

// blocksDelete: resources with backend state or a cost keep their owner.
func blocksDelete(rt store.ResourceType) bool {
	switch rt.Bucket {
	case store.BucketKeyPairs, store.BucketSecurityGroups, store.BucketLaunchTemplates, store.BucketPrefixLists:
		return false
	}
	return true
}

// isTerminated reports whether a stored record is an instance already
// terminated (which does not block deleting its owner).
func isTerminated(rt store.ResourceType, raw []byte) bool {
	if rt.Bucket != store.BucketInstances {
		return false
	}
	var inst store.Instance
	return json.Unmarshal(raw, &inst) == nil && inst.State == "terminated"
}

// userRecord is name's record; a user that does not exist is ErrNotFound,
// the error every admin command reports for it.
func userRecord(tx store.Tx, name string) (*store.User, error) {
	rec, err := store.GetUser(tx, name)
	if errors.Is(err, store.ErrNoUser) {
		return nil, ErrNotFound
	}
	return rec, err
}

// Show returns one user's record.
func (u *Users) Show(name string) (*UserInfo, error) {
	var info *UserInfo
	err := u.Store.View(func(tx store.Tx) error {
		rec, err := userRecord(tx, name)
		if err != nil {
			return err
		}
		info = toInfo(rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	return info, nil
}

// List returns every user, by name.
func (u *Users) List() ([]*UserInfo, error) {
	var out []*UserInfo
	err := u.Store.View(func(tx store.Tx) error {
		recs, err := store.ListUsers(tx)
		for _, r := range recs {
			out = append(out, toInfo(r))
		}
		return err
	})
	return out, err
}

func toInfo(r *store.User) *UserInfo {
	return &UserInfo{Name: r.Name, Group: r.Group, AccountID: r.AccountID, AccessKeyID: r.AccessKeyID,
		Disabled: r.Disabled, Created: r.Created, KeyRotated: r.KeyRotated}
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretSet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// newAccessKeyID is 20 upper-case alphanumerics starting AKIA, as AWS's are.
func newAccessKeyID() string { return "AKIA" + randomString(upperAlnum, 16) }

// newSecret is 40 characters of AWS's secret alphabet.
func newSecret() string { return randomString(secretSet, 40) }

// newAccountID is a 12-digit ownerId, never starting with 0.
func newAccountID() string { return randomString("123456789", 1) + randomString("0123456789", 11) }

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}
