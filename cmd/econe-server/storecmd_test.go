package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// store migrate copies a bbolt file into PostgreSQL and verifies it; a
// second run into the same database is refused.
func TestStoreMigrateRoundTrip(t *testing.T) {
	srv := pgtest.Start(t)
	path := filepath.Join(t.TempDir(), "econe.db")
	b, err := store.OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx store.Tx) error { return tx.Put(store.BucketUsers, "alice", []byte(`{"name":"alice"}`)) }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	dsn := srv.NewSchema(t)
	run := func() (string, error) {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"store", "migrate", "--from", "bolt://" + path, "--to", dsn})
		err := root.Execute()
		return out.String(), err
	}
	if out, err := run(); err != nil || !strings.Contains(out, "checksums match") {
		t.Fatalf("first migrate: got %q, %v, want the checksums to match", out, err)
	}
	if _, err := run(); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second migrate: got %v, want a refusal of the non-empty target", err)
	}
}
