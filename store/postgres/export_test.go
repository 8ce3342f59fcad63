package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// PrefixEnd and PageSize are exported for the package's tests.
var PrefixEnd = prefixEnd

const PageSize = pageSize

// Queued is how many update functions wait for a batch.
func (s *Store) Queued() int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.queue)
}

// SelectOne is one round trip by the path of ReadMany and ViewRefs: a
// connection from the pool, one statement (SELECT 1), its row read.
func (s *Store) SelectOne() error {
	conn, err := s.acquire()
	if err != nil {
		return err
	}
	defer conn.Release()
	t := &tx{ctx: context.Background(), conn: conn, begun: true}
	var n int
	return t.run(func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&n}, func() error { return nil })
		return err
	}, `SELECT 1`)
}

// Setting is a server setting as one of the pool's connections has it.
func (s *Store) Setting(name string) (string, error) {
	var v string
	err := s.pool.QueryRow(context.Background(), `SELECT current_setting($1)`, name).Scan(&v)
	return v, err
}
