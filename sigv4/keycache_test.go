package sigv4

import (
	"errors"
	"testing"
	"time"
)

// A KeyCache changes no verdict: a rotated secret refuses the signatures
// of the old one though its key is remembered, and each scope (day,
// region, service) has its own key; a request of a remembered scope
// derives none.
func TestKeyCache(t *testing.T) {
	keys := &KeyCache{}
	secret := testSecret
	lookup := func(string) (string, bool) { return secret, true }
	nextDay := sdkBase.Add(24 * time.Hour)
	cases := []struct {
		name    string
		req     Request
		now     time.Time
		secret  string
		wantErr error
		wantLen int // keys remembered afterwards
	}{
		{"first request", sdkEC2Post(t, sdkBase), sdkBase, testSecret, nil, 1},
		{"same scope again", sdkEC2Post(t, sdkBase), sdkBase, testSecret, nil, 1},
		{"presigned, same scope", sdkPresignedGet(t, sdkBase, 300), sdkBase, testSecret, nil, 1},
		{"after a rotation, the old secret's signature", sdkEC2Post(t, sdkBase), sdkBase, otherSec, ErrMismatch, 2},
		{"the next day", sdkEC2Post(t, nextDay), nextDay, testSecret, nil, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			secret = c.secret
			_, err := Verify(c.req, lookup, Options{Now: c.now.Add(time.Second), Keys: keys})
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
			if got := len(keys.keys); got != c.wantLen {
				t.Errorf("got %d keys remembered, want %d", got, c.wantLen)
			}
		})
	}
}

// The cache starts afresh at its bound rather than growing without one.
func TestKeyCacheBound(t *testing.T) {
	keys := &KeyCache{}
	a := v4Auth{date: "20261203", region: "us-east-1", service: "ec2"}
	for i := range maxCachedKeys + 1 {
		a.region = "r" + string(rune('a'+i%26)) + time.Duration(i).String()
		if got, want := keys.signingKey(testSecret, &a), signingKey(testSecret, &a); got != want {
			t.Fatalf("region %s: got key %x, want %x", a.region, got, want)
		}
	}
	if got := len(keys.keys); got != 1 {
		t.Errorf("after %d scopes: got %d keys remembered, want 1", maxCachedKeys+1, got)
	}
}
