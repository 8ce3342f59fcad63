package sigv4

import (
	"crypto/sha256"
	"strings"
	"sync"
)

// KeyCache remembers derived signing keys, so that a request of a secret,
// date, region and service seen before costs one HMAC instead of five. A
// key is derived from the secret itself (the entry is found by the secret,
// not by the access key id), so a rotated secret never meets a stale key,
// and the secret must still come from SecretLookup on every request. The
// zero value is ready; a nil *KeyCache derives every time.
type KeyCache struct {
	mu   sync.RWMutex
	keys map[keyScope][sha256.Size]byte
}

type keyScope struct{ secret, date, region, service string }

// maxCachedKeys bounds the cache: past it, it starts afresh (entries of
// past days are never asked for again).
const maxCachedKeys = 4096

func (c *KeyCache) signingKey(secret string, a *v4Auth) [sha256.Size]byte {
	if c == nil {
		return signingKey(secret, a)
	}
	ks := keyScope{secret, a.date, a.region, a.service}
	c.mu.RLock()
	key, ok := c.keys[ks]
	c.mu.RUnlock()
	if ok {
		return key
	}
	key = signingKey(secret, a)
	// The scope's strings point into the request's header: copy them.
	ks = keyScope{secret, strings.Clone(a.date), strings.Clone(a.region), strings.Clone(a.service)}
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = map[keyScope][sha256.Size]byte{}
	}
	c.keys[ks] = key
	c.mu.Unlock()
	return key
}
