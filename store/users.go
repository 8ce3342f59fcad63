package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
)

// User is a student (or any API user). The secret is sealed with the
// keyring so a copied database alone leaks no usable secret.
type User struct {
	Name         string    `json:"name"`
	Group        string    `json:"group,omitempty"`
	AccountID    string    `json:"account_id"` // 12 digits, EC2's ownerId
	AccessKeyID  string    `json:"access_key_id"`
	SealedSecret []byte    `json:"sealed_secret"`
	Disabled     bool      `json:"disabled,omitzero"`
	Created      time.Time `json:"created"`
	KeyRotated   time.Time `json:"key_rotated"`
}

// ErrNoUser is returned by GetUser for an unknown name.
var ErrNoUser = errors.New("no such user")

// GetUser loads a user by name.
func GetUser(tx Tx, name string) (*User, error) {
	u := new(User)
	found, err := GetJSON(tx, BucketUsers, name, u)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNoUser
	}
	return u, nil
}

// UserByAccessKey finds the user an access key belongs to.
func UserByAccessKey(tx Tx, accessKeyID string) (*User, error) {
	raw, err := UserRecordByAccessKey(tx, accessKeyID)
	if err != nil {
		return nil, err
	}
	return DecodeUser(raw)
}

// UserRecordByAccessKey is the stored record of the user an access key
// belongs to, valid until the transaction ends: for callers that keep
// what they decoded from it while it stays the same.
func UserRecordByAccessKey(tx Tx, accessKeyID string) ([]byte, error) {
	name := tx.Get(BucketAccessKeys, accessKeyID)
	if name == nil {
		return nil, ErrNoUser
	}
	raw := tx.Get(BucketUsers, string(name))
	if raw == nil {
		return nil, ErrNoUser
	}
	return raw, nil
}

// DecodeUser decodes a record UserRecordByAccessKey returned.
func DecodeUser(raw []byte) (*User, error) {
	u := new(User)
	if err := json.Unmarshal(raw, u); err != nil {
		return nil, fmt.Errorf("store: decode user: %w", err)
	}
	return u, nil
}

// PutUser stores the user and keeps the access-key index in step: an old
// key of the same user stops resolving in the same transaction.
func PutUser(tx Tx, u *User) error {
	if old, err := GetUser(tx, u.Name); err == nil && old.AccessKeyID != u.AccessKeyID {
		if err := tx.Delete(BucketAccessKeys, old.AccessKeyID); err != nil {
			return err
		}
	}
	if err := tx.Put(BucketAccessKeys, u.AccessKeyID, []byte(u.Name)); err != nil {
		return err
	}
	return PutJSON(tx, BucketUsers, u.Name, u)
}

// DeleteUser removes the user, their access key and their quota override,
// so that a later user of the same name starts with the group's limits.
// Their resources are the caller's business (see admin).
func DeleteUser(tx Tx, name string) error {
	u, err := GetUser(tx, name)
	if err != nil {
		return err
	}
	if err := tx.Delete(BucketAccessKeys, u.AccessKeyID); err != nil {
		return err
	}
	if err := tx.Delete(BucketQuotas, quotaKey(QuotaUser, name)); err != nil {
		return err
	}
	return tx.Delete(BucketUsers, name)
}

// PurgeOwner deletes every record the user owns (see OwnerBuckets) and
// their counters. Their usage ledger stays, for reports.
func PurgeOwner(tx Tx, owner string) error {
	if err := purgeImageGrants(tx, owner); err != nil {
		return err
	}
	for _, b := range OwnerBuckets {
		if err := deletePrefix(tx, b, OwnerPrefix(owner)); err != nil {
			return err
		}
	}
	return tx.Delete(BucketCounters, owner)
}

// ListUsers returns every user in name order.
func ListUsers(tx Tx) ([]*User, error) {
	var out []*User
	err := ScanJSON(tx, BucketUsers, "", func(_ string, u *User) error {
		out = append(out, u)
		return nil
	})
	return out, err
}
