package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// While the database is down, View, ReadMany and Update fail with ErrUnavailable
// (the server's 503); once it is back, the same Store works again and
// what was committed before is there.
// Over the Unix socket a commit on a pooled connection the server closed
// fails before it is sent, which is ErrUnavailable too.
func TestUnavailableWhileTheDatabaseIsDown(t *testing.T) {
	srv := pgtest.Start(t)
	for _, c := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"tcp", srv.NewSchema}, {"unix socket", srv.NewSocketSchema}} {
		t.Run(c.name, func(t *testing.T) { unavailableWhileDown(t, srv, c.dsn(t)) })
	}
}

func unavailableWhileDown(t *testing.T, srv *pgtest.Server, dsn string) {
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(key string) error {
		return s.Update(func(tx store.Tx) error { return tx.Put(store.BucketMeta, key, []byte("v")) })
	}
	if err := put("before"); err != nil {
		t.Fatal(err)
	}

	srv.Pause(t)
	cases := []struct {
		name string
		call func() error
	}{
		{"update", func() error { return put("during") }},
		{"view", func() error {
			return s.View(func(tx store.Tx) error { tx.Get(store.BucketMeta, "before"); return nil })
		}},
		{"read many", func() error {
			_, err := s.ReadMany(store.BucketMeta, []string{"before"})
			return err
		}},
	}
	for _, c := range cases {
		if err := c.call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s while the database is down: got %v, want ErrUnavailable", c.name, err)
		}
	}

	srv.Resume(t)
	if err := put("after"); err != nil {
		t.Fatalf("update after the database came back: got %v, want nil", err)
	}
	var got []string
	if err := s.View(func(tx store.Tx) error {
		return tx.Scan(store.BucketMeta, "", func(k string, _ []byte) error { got = append(got, k); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	want := "after before schema_version"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("keys after the outage: got %q, want %q", g, want)
	}
}
