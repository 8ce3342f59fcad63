package store

import "time"

// KeyPair is a student's SSH key pair. Only the public half is kept: the
// private key of a created pair is returned once and then forgotten.
// Records are keyed OWNER/key-… (tags hang off the id); names are unique
// per owner and looked up by scanning the owner's prefix.
type KeyPair struct {
	ID          string    `json:"id"`
	Owner       string    `json:"owner"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`       // rsa | ed25519
	PublicKey   string    `json:"public_key"` // OpenSSH authorized_keys line
	Fingerprint string    `json:"fingerprint"`
	Created     time.Time `json:"created"`
	// Pending is a backend change in flight (its intent): KeyImporting or
	// KeyDeleting; "" when the backend has the key as recorded.
	Pending string `json:"pending,omitempty"`
	// Replica is the replica that recorded Pending and waits for the
	// backend's answer ("" on bbolt's one process).
	Replica string `json:"replica,omitempty"`
	// Imported is an RFC 4716 file as it was imported, which
	// DescribeKeyPairs shows back unchanged; "" for the other formats
	// (shown as PublicKey) and in records written before it was kept.
	Imported string `json:"imported,omitempty"`
}

// The backend changes a key pair's record may be waiting on.
const (
	KeyImporting = "importing"
	KeyDeleting  = "deleting"
)

// GetKeyPair loads one of the user's key pairs by id; nil when absent.
func GetKeyPair(tx Tx, owner, id string) (*KeyPair, error) {
	return GetOwned[KeyPair](tx, BucketKeyPairs, owner, id)
}

// KeyPairByName finds the user's key pair called name; nil when absent.
func KeyPairByName(tx Tx, owner, name string) (*KeyPair, error) {
	var found *KeyPair
	err := ScanJSON(tx, BucketKeyPairs, OwnerPrefix(owner), func(_ string, k *KeyPair) error {
		if k.Name != name {
			return nil
		}
		found = k
		return ErrStop
	})
	return found, err
}

// PutKeyPair stores a key pair.
func PutKeyPair(tx Tx, k *KeyPair) error {
	return counted(tx, BucketKeyPairs, k.Owner, k.ID, k, countKeyPair)
}

// DeleteKeyPair removes a key pair and its tags.
func DeleteKeyPair(tx Tx, owner, id string) error {
	return counted[KeyPair](tx, BucketKeyPairs, owner, id, nil, countKeyPair)
}

// ListKeyPairs returns all of the user's key pairs in id order.
func ListKeyPairs(tx Tx, owner string) ([]*KeyPair, error) {
	return ListOwned[KeyPair](tx, BucketKeyPairs, owner)
}
