// Package keyring seals user secrets at rest. The key lives in its own file
// (mode 0600) beside, not inside, the database: a copied database alone
// yields no usable secret.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

const keySize = 32

// Keyring seals and opens secrets with AES-256-GCM.
type Keyring struct {
	aead cipher.AEAD
}

// LoadOrCreate reads the key file, creating it (0600) with a fresh random
// key if it does not exist. A key file readable by others is refused.
func LoadOrCreate(path string) (*Keyring, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keyring: create %s: %w", path, err)
		}
		_, werr := f.Write(key)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("keyring: write %s: %w", path, werr)
		}
	} else if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	} else if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring: %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	return New(key)
}

// New builds a keyring from a raw 32-byte key.
func New(key []byte) (*Keyring, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("keyring: key must be %d bytes, got %d", keySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keyring{aead: aead}, nil
}

// Seal encrypts a secret; the nonce is prepended. The label (the access key
// id) is bound as additional data, so a sealed secret cannot be moved to
// another user's record.
func (k *Keyring) Seal(label, secret string) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(secret)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return k.aead.Seal(nonce, nonce, []byte(secret), []byte(label))
}

// Open decrypts a sealed secret.
func (k *Keyring) Open(label string, sealed []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("keyring: sealed secret too short")
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(label))
	if err != nil {
		return "", errors.New("keyring: cannot open secret (wrong key file?)")
	}
	return string(plain), nil
}
