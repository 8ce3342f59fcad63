package conf

import (
	"net/url"
	"strings"
	"time"
)

// Store drivers.
const (
	StoreBolt     = "bolt"
	StorePostgres = "postgres"
)

const defaultMaxConns = 10

// defaultMaxConcurrentUpdates is one SERIALIZABLE writer per replica: the
// updates waiting for it run together in its next transaction (group
// commit), and more writers conflict with each other and run again, a
// whole group at a time (BENCHMARKS.md).
const defaultMaxConcurrentUpdates = 1

// DefaultLeaderTakeover (store.leader_takeover) bounds how long background work waits for a new
// leader after the leader replica dies.
const DefaultLeaderTakeover = Duration(15 * time.Second)

// Store chooses and configures the store.
type Store struct {
	// Driver is bolt (DataDir/econe.db) or postgres.
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL database, as a postgres:// URL or key=value
	// pairs (libpq's forms).
	DSN string `yaml:"dsn"`
	// MaxConns caps the PostgreSQL connections of one server.
	MaxConns int `yaml:"max_conns"`
	// MaxConcurrentUpdates bounds the update transactions one server
	// runs at once; the others wait their turn.
	MaxConcurrentUpdates int `yaml:"max_concurrent_updates"`
	// LeaderTakeover bounds how long, with driver postgres, the replicas
	// go without a leader (the one running background work) after it dies.
	LeaderTakeover Duration `yaml:"leader_takeover"`
}

// checkStore never quotes the dsn: it may hold a password.
func (c *Config) checkStore(p *problems) {
	s := c.Store
	switch s.Driver {
	case StoreBolt:
		if s.DSN != "" {
			p.add("store.dsn", "is only used with driver postgres; set store.driver: postgres or remove it")
		}
	case StorePostgres:
		if msg := dsnProblem(s.DSN); msg != "" {
			p.add("store.dsn", "%s", msg)
		}
	default:
		p.add("store.driver", "unknown driver %q: use bolt or postgres", s.Driver)
	}
	// A View needs a connection of its own while updates hold the others.
	if s.MaxConns < 2 || s.MaxConns > 10000 {
		p.add("store.max_conns", "must be 2..10000, got %d", s.MaxConns)
	}
	if s.MaxConcurrentUpdates < 1 || s.MaxConcurrentUpdates > 10000 {
		p.add("store.max_concurrent_updates", "must be 1..10000, got %d", s.MaxConcurrentUpdates)
	}
	if s.LeaderTakeover < Duration(5*time.Second) || s.LeaderTakeover > Duration(10*time.Minute) {
		p.add("store.leader_takeover", "must be from 5s to 10m, got %s", s.LeaderTakeover)
	}
}

// dsnProblem says what is wrong with a PostgreSQL dsn, "" when nothing.
func dsnProblem(dsn string) string {
	switch {
	case strings.TrimSpace(dsn) == "":
		return "is required with driver postgres, e.g. postgres://econe@db.example.edu/econe"
	case strings.Contains(dsn, "://"):
		u, err := url.Parse(dsn)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return "is not a valid postgres:// or postgresql:// URL"
		}
	case !strings.Contains(dsn, "="):
		return "must be a postgres:// URL or key=value pairs such as host=db.example.edu dbname=econe"
	}
	return ""
}
