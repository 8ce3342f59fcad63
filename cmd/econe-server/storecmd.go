package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/spf13/cobra"
)

// migrateOpenTimeout bounds connecting to the target database;
// migrateLockTimeout waiting for the bbolt file's lock.
const (
	migrateOpenTimeout = 30 * time.Second
	migrateLockTimeout = 2 * time.Second
)

func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "store", Short: "Move a course's state between stores"}
	var from, to string
	migrate := &cobra.Command{
		Use:   "migrate --from bolt://PATH --to postgres://…",
		Short: "Copy a course from a bbolt file to an empty PostgreSQL database",
		Long: `Copy every record of a course's bbolt file (stop its server first) into a
PostgreSQL database that holds no course yet, then compare each bucket's key
count and checksum. Afterwards set store.driver: postgres and store.dsn, and
copy the data directory's secret.key to every replica.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, ok := strings.CutPrefix(from, "bolt://")
			if !ok || path == "" {
				return errors.New("--from must be bolt://PATH, the econe.db of the course")
			}
			if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
				return errors.New("--to must be a postgres:// URL")
			}
			src, err := store.OpenBolt(path, migrateLockTimeout)
			if errors.Is(err, store.ErrLocked) {
				return fmt.Errorf("%s is in use: stop its econe-server first", path)
			}
			if err != nil {
				return err
			}
			defer src.Close()
			ctx, cancel := context.WithTimeout(context.Background(), migrateOpenTimeout)
			defer cancel()
			dst, err := postgres.Open(ctx, to, postgres.Options{})
			if err != nil {
				return err
			}
			defer dst.Close()
			sums, err := store.Copy(dst, src)
			if err != nil {
				return err
			}
			keys := 0
			for _, s := range sums {
				keys += s.Keys
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %d keys in %d buckets; counts and checksums match\n", keys, len(sums))
			return nil
		},
	}
	migrate.Flags().StringVar(&from, "from", "", "the course's bbolt file, bolt://PATH")
	migrate.Flags().StringVar(&to, "to", "", "the empty PostgreSQL database, postgres://…")
	cmd.AddCommand(migrate)
	return cmd
}
