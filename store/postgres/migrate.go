package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/econe/econe-server/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrations are the SQL files NNNN_name.sql, applied in order, each once;
// econe_schema records the versions applied. They are part of the binary.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key held while migrating, so that
// replicas starting at once apply each migration once ("econe" in ASCII).
const migrationLock = 0x65636f6e65

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order; their
// versions must be 1, 2, 3… without gaps.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for i, name := range names { // fs.Glob sorts
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("store: migration %s: want version %d", base, i+1)
		}
		sql, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{v, base, string(sql)})
	}
	return out, nil
}

// migrate applies the missing migrations and checks the store's schema
// version, in one transaction under the advisory lock: a replica waiting
// for it then sees what the first one did. A database migrated by a newer
// econe-server is refused.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	all, err := loadMigrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS econe_schema (
			version integer PRIMARY KEY,
			name text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("store: create econe_schema: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM econe_schema`).Scan(&current); err != nil {
			return fmt.Errorf("store: read econe_schema: %w", err)
		}
		if current > len(all) {
			return fmt.Errorf("store: the database has SQL schema version %d, this econe-server knows up to %d: upgrade econe-server", current, len(all))
		}
		for _, m := range all[current:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO econe_schema (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
		}
		return checkSchemaVersion(ctx, tx)
	})
}

// checkSchemaVersion gives a new store the current store.SchemaVersion,
// as bbolt's does, and refuses a newer one; an older one (copied from
// bbolt) is left to store.Migrate.
func checkSchemaVersion(ctx context.Context, tx pgx.Tx) error {
	meta, key := string(store.BucketMeta), []byte("schema_version")
	if _, err := tx.Exec(ctx, `INSERT INTO econe_kv (bucket, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		meta, key, []byte(store.SchemaVersion)); err != nil {
		return fmt.Errorf("store: schema version: %w", err)
	}
	var v []byte
	if err := tx.QueryRow(ctx, `SELECT value FROM econe_kv WHERE bucket = $1 AND key = $2`, meta, key).Scan(&v); err != nil {
		return fmt.Errorf("store: schema version: %w", err)
	}
	have, err1 := strconv.Atoi(string(v))
	want, err2 := strconv.Atoi(store.SchemaVersion)
	if err1 != nil || err2 != nil || have > want {
		return fmt.Errorf("store: the database has schema version %s, this econe-server reads %s", v, store.SchemaVersion)
	}
	return nil
}
