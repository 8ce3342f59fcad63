package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/econe/econe-server/store/postgres/pgtest"
	"github.com/econe/econe-server/store/storetest"
)

// open opens a store at dsn that the test's cleanup closes. Its four
// concurrent updates, as two replicas' default two, can conflict and be
// run again, which the suite checks.
func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 8, MaxConcurrentUpdates: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestConformance runs the store contract's suite on PostgreSQL, each test
// in a schema of its own. Reopen is a second pool on the same schema, as
// another process (or replica) would open it.
func TestConformance(t *testing.T) {
	srv := pgtest.Start(t)
	var mu sync.Mutex
	dsns := map[store.Store]string{}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Store {
			dsn := srv.NewSchema(t)
			st := open(t, dsn)
			mu.Lock()
			dsns[st] = dsn
			mu.Unlock()
			return st
		},
		Reopen: func(t *testing.T, st store.Store) store.Store {
			mu.Lock()
			dsn := dsns[st]
			mu.Unlock()
			return open(t, dsn)
		},
		Retries: true,
	})
}
