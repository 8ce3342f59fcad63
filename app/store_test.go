package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// OpenStore opens the store.driver's store; the keyring key stays in the
// data directory with either, and only bolt makes econe.db there.
func TestOpenStoreDriver(t *testing.T) {
	srv := pgtest.Start(t)
	cases := []struct {
		name   string
		store  func(t *testing.T) conf.Store
		wantDB bool
	}{
		{"bolt", func(*testing.T) conf.Store { return conf.Default().Store }, true},
		{"postgres", func(t *testing.T) conf.Store {
			return conf.Store{Driver: conf.StorePostgres, DSN: srv.NewSchema(t), MaxConns: 4, LeaderTakeover: conf.DefaultLeaderTakeover}
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := conf.Default()
			cfg.DataDir = t.TempDir()
			cfg.Store = c.store(t)
			st, _, err := OpenStore(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = st.Update(func(tx store.Tx) error { return tx.Put(store.BucketTags, "k", []byte(c.name)) })
			st.Close()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(cfg.DataDir, KeyFile)); err != nil {
				t.Errorf("keyring key: %v, want it in the data directory", err)
			}
			if _, err := os.Stat(filepath.Join(cfg.DataDir, DBFile)); (err == nil) != c.wantDB {
				t.Errorf("%s in the data directory: got %v, want present=%v", DBFile, err, c.wantDB)
			}
			if cfg.Store.Driver != conf.StorePostgres {
				return
			}
			pg, err := postgres.Open(context.Background(), cfg.Store.DSN, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer pg.Close()
			pg.View(func(tx store.Tx) error {
				if got := string(tx.Get(store.BucketTags, "k")); got != c.name {
					t.Errorf("in PostgreSQL: got %q, want %q", got, c.name)
				}
				return nil
			})
		})
	}
}
