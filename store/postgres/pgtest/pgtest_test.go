package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestStartSettings: the extra settings are the server's, also after a
// Resume.
func TestStartSettings(t *testing.T) {
	s := Start(t, "work_mem=7MB", "shared_preload_libraries=pg_stat_statements")
	show := func(name string) string {
		t.Helper()
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	check := func(when string) {
		t.Helper()
		for _, c := range []struct{ name, want string }{
			{"work_mem", "7MB"},
			{"shared_preload_libraries", "pg_stat_statements"},
		} {
			if got := show(c.name); got != c.want {
				t.Errorf("%s: SHOW %s: got %q, want %q", when, c.name, got, c.want)
			}
		}
	}
	check("after Start")
	s.Pause(t)
	s.Resume(t)
	check("after Resume")
}

// TestCPU: the cluster's CPU time counts a statement's work, done by a
// backend (a child of the postmaster) whose session is still open.
func TestCPU(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	before := s.CPU()
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM generate_series(1, 5000000)").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if got := s.CPU() - before; got < 50*time.Millisecond {
		t.Errorf("got %v of CPU for counting 5,000,000 rows, want at least 50ms", got)
	}
}
