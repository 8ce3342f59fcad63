package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/econe/econe-server/store/postgres"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// Two replicas: one leads; when its session dies (as when its process is
// killed), it stops leading and the other takes over.
func TestLeaderTakeover(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	type event struct {
		replica string
		ctx     context.Context
	}
	gained := make(chan event, 4)
	electors := map[string]*postgres.Elector{}
	stop := map[string]context.CancelFunc{}
	done := make(chan struct{}, 2)
	for _, name := range []string{"A", "B"} {
		rctx, rcancel := context.WithCancel(ctx)
		stop[name] = rcancel
		s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		e := s.Elector(5*time.Second, nil)
		electors[name] = e
		go func() {
			defer func() { done <- struct{}{} }()
			e.Run(rctx, func(lctx context.Context) {
				gained <- event{name, lctx}
				<-lctx.Done()
			})
		}()
	}
	defer func() { cancel(); <-done; <-done }()

	first := <-gained
	other := map[string]string{"A": "B", "B": "A"}[first.replica]
	if !electors[first.replica].Leading() || electors[other].Leading() {
		t.Fatalf("after %s gained: got leading A=%v B=%v, want only %s", first.replica, electors["A"].Leading(), electors["B"].Leading(), first.replica)
	}
	// The leader's session ends, as a killed process's does.
	if err := srv.Exec(ctx, "postgres", `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted`); err != nil {
		t.Fatal(err)
	}
	<-first.ctx.Done()    // the old leader stops its work when its ping fails
	stop[first.replica]() // and is gone for good, as a killed process
	second := <-gained
	if second.replica != other {
		t.Fatalf("after the leader's session ended: got %s leading, want %s", second.replica, other)
	}
	if ctx.Err() != nil {
		t.Fatalf("no takeover: %v", ctx.Err())
	}
}
