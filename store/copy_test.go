package store

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTestBolt(t *testing.T) *Bolt {
	t.Helper()
	b, err := OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Copy copies every bucket (more keys than one batch, empty values
// included) and refuses a target that holds anything.
func TestCopy(t *testing.T) {
	src := openTestBolt(t)
	if err := src.Update(func(tx Tx) error {
		for i := range copyBatch + 3 {
			if err := tx.Put(BucketTags, strings.Repeat("k", 1+i%7)+string(rune('a'+i%26))+string(rune(i)), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return tx.Put(BucketAddressPool, "192.0.2.1", nil)
	}); err != nil {
		t.Fatal(err)
	}
	dst := openTestBolt(t)
	sums, err := Copy(dst, src)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	got, _ := Sums(dst)
	for _, b := range Buckets {
		if got[b] != sums[b] {
			t.Errorf("bucket %s: got %d keys, want %d with the same hash", b, got[b].Keys, sums[b].Keys)
		}
	}
	if got[BucketAddressPool].Keys != 1 {
		t.Errorf("address_pool: got %d keys, want 1 (an empty value)", got[BucketAddressPool].Keys)
	}
	if _, err := Copy(dst, src); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Copy into a store with data: got %v, want a refusal", err)
	}
}
