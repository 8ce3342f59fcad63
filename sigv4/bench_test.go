package sigv4

import (
	"testing"
	"time"
)

// BenchmarkVerifyV4 is the hot path: an aws-sdk-go-v2 EC2 POST signed with
// the Authorization header.
func BenchmarkVerifyV4(b *testing.B) {
	r := sdkEC2Post(b, sdkBase)
	opt := Options{Now: sdkBase.Add(time.Second)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(r, testLookup, opt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyV4Cached is BenchmarkVerifyV4 with the signing key
// remembered, as the server verifies.
func BenchmarkVerifyV4Cached(b *testing.B) {
	r := sdkEC2Post(b, sdkBase)
	opt := Options{Now: sdkBase.Add(time.Second), Keys: &KeyCache{}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(r, testLookup, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyV4Presigned(b *testing.B) {
	r := sdkPresignedGet(b, sdkBase, 300)
	opt := Options{Now: sdkBase.Add(time.Second)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(r, testLookup, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyV2(b *testing.B) {
	r := v2VectorRequest()
	opt := Options{Now: v2VectorTime, AllowV2: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(r, testLookup, opt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyV4Mismatch is what an attacker can make the server do.
func BenchmarkVerifyV4Mismatch(b *testing.B) {
	r := sdkEC2Post(b, sdkBase)
	opt := Options{Now: sdkBase.Add(time.Second)}
	wrong := func(string) (string, bool) { return otherSec, true }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(r, wrong, opt); err == nil {
			b.Fatal("verified with the wrong secret")
		}
	}
}
