// Package app assembles econe-server from its configuration: store,
// keyring, backend, actions and the HTTP server. The CLI's run command and
// the end-to-end tests build the same thing through Open.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/audit"
	"github.com/econe/econe-server/backend"
	_ "github.com/econe/econe-server/backend/all" // registers the built-in backends
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/elasticip"
	"github.com/econe/econe-server/keyring"
	"github.com/econe/econe-server/metrics"
	"github.com/econe/econe-server/notify"
	"github.com/econe/econe-server/server"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/econe/econe-server/templates"
	"github.com/econe/econe-server/usage"
	"github.com/rs/zerolog"
)

// App is one assembled econe-server.
type App struct {
	Config  *conf.Config
	Store   store.Store
	Keys    *keyring.Keyring
	Backend backend.Backend
	Service *actions.Service
	Server  *server.Server
	Users   *admin.Users
	Audit   *audit.Log
	// Metrics is every Prometheus metric, in a registry of its own; Ready
	// the readiness probe. The admin listener (AdminHandler) serves both.
	Metrics *metrics.Metrics
	Ready   *metrics.Readiness
	// Reconciling is the undoing of the elastic IP changes a previous run
	// left unfinished, in the background while the server serves.
	Reconciling *actions.Reconciliation

	// Leader decides whether this replica runs the background work; a
	// bbolt store's process always does.
	Leader Elector
	// ReplicaID names this replica in the heartbeats and the intents it
	// records: HOST/PID/NONCE, new each run ("" on bbolt).
	ReplicaID string
	// beatingSince is when this replica's heartbeats last began to
	// succeed without a failure since (UnixNano; 0 after a failure).
	beatingSince atomic.Int64

	stopReconciling context.CancelFunc
	// backgroundDone is closed when the background work and the
	// heartbeats have stopped.
	backgroundDone <-chan struct{}
	// Guardrails is the sweep (started by Open); Notifier tells what it
	// does.
	Guardrails *actions.Guardrails
	Notifier   *notify.Dispatcher
}

// notifyDrain bounds how long Close waits for queued notifications.
const notifyDrain = 5 * time.Second

// Files under the data directory.
const (
	DBFile      = "econe.db"
	KeyFile     = "secret.key"
	PIDFile     = "econe-server.pid"
	DefaultLog  = "econe-server.log"
	lockTimeout = 2 * time.Second
	// connectTimeout bounds opening (and migrating) a PostgreSQL store.
	connectTimeout = 30 * time.Second
)

// OpenStore opens the store (store.driver) and the keyring of the data
// directory: what admin commands need when the server is not running.
func OpenStore(cfg *conf.Config) (store.Store, *keyring.Keyring, error) {
	keys, err := keyring.LoadOrCreate(filepath.Join(cfg.DataDir, KeyFile))
	if err != nil {
		return nil, nil, err
	}
	st, err := openDriver(cfg.DataDir, cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	return st, keys, nil
}

func openDriver(dataDir string, c conf.Store) (store.Store, error) {
	if c.Driver != conf.StorePostgres {
		return store.OpenBolt(filepath.Join(dataDir, DBFile), lockTimeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	return postgres.Open(ctx, c.DSN, postgres.Options{MaxConns: int32(c.MaxConns), MaxConcurrentUpdates: c.MaxConcurrentUpdates})
}

// OpenAudit opens the audit log of cfg.
func OpenAudit(cfg *conf.Config, log zerolog.Logger, clock func() time.Time) (*audit.Log, error) {
	return audit.Open(audit.Options{Dir: cfg.AuditDir(), MaxFileBytes: cfg.Audit.MaxFileMiB << 20, MaxFiles: cfg.Audit.MaxFiles,
		Clock: clock, Log: log.With().Str("component", "audit").Logger()})
}

// Open builds the whole server. clock may be nil (time.Now). progress,
// when not nil, is told each start-up step that may take a while before it
// begins (`econe-server start` shows them).
func Open(cfg *conf.Config, log zerolog.Logger, clock func() time.Time, progress func(step string)) (*App, error) {
	if clock == nil {
		clock = func() time.Time { return time.Now().UTC() }
	}
	if progress == nil {
		progress = func(string) {}
	}
	progress("opening the data directory " + cfg.DataDir)
	st, keys, err := OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	auditLog, err := OpenAudit(cfg, log, clock)
	if err != nil {
		st.Close()
		return nil, err
	}
	names := make([]string, 0, len(actions.Table()))
	for name := range actions.Table() {
		names = append(names, name)
	}
	m := metrics.New(names)
	if b, ok := st.(*store.Bolt); ok {
		b.ObserveCommits(m.Commit)
	}
	svc, err := OpenService(cfg, st, log, clock, progress)
	if err != nil {
		auditLog.Close()
		st.Close()
		return nil, err
	}
	// Probes and Close use the backend itself; the actions' calls are metered.
	be := svc.Backend.Backend
	svc.Backend = m.Abilities(svc.Backend)
	if scripts, ok := svc.Addresses.(*elasticip.Scripts); ok {
		scripts.Observe = m.ScriptRun
	}
	a := &App{
		Config: cfg, Store: st, Keys: keys, Backend: be, Service: svc,
		Server:          server.New(cfg, svc, keys, auditLog, log),
		Users:           &admin.Users{Store: st, Keys: keys, Clock: clock, Config: cfg, Instances: svc},
		Audit:           auditLog,
		Metrics:         m,
		Ready:           metrics.NewReadiness(st, be, clock),
		stopReconciling: func() {},
	}
	a.Server.Observe(m)
	a.Notifier = notify.FromConfig(cfg.Guardrails, log.With().Str("component", "guardrails").Logger())
	a.Guardrails = &actions.Guardrails{Service: svc, Notify: a.Notifier.Notify, Observe: m.GuardrailAction, Audit: auditLog.Record}
	if err := svc.SyncAddressPool(); err != nil {
		a.Close()
		return nil, fmt.Errorf("elastic IPs: %w", err)
	}
	if err := a.elect(log, progress); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// background is the work only the leader does: it finishes what a crash
// left half-done, then starts the periodic loops. On bbolt every intent
// found at start is a crash's; on PostgreSQL those of the replicas that
// are gone are finished at once and every takeover (recoverEvery).
// Reconciling is the elastic IP changes being undone (bbolt); wait
// returns when the loops have stopped after ctx ended.
func (a *App) background(ctx context.Context, progress func(string)) (reconciling *actions.Reconciliation, wait func(), err error) {
	svc := a.Service
	var rec *actions.Reconciliation
	var recovering <-chan struct{}
	if a.ReplicaID == "" {
		if rec, err = a.recoverIntents(ctx, actions.AllOrphaned, progress); err != nil {
			return nil, nil, err
		}
		recovering = rec.Done()
	} else {
		recovering = a.recoverEvery(ctx)
	}
	// The usage ledger is reconciled with the backend at once (closing
	// what changed while no leader ran) and then periodically.
	usageDone := svc.ReconcileUsageEvery(ctx, a.Config.Usage.ReconcileInterval.D(), time.After)
	// The guardrails sweep at once (finishing what a crash left) and then
	// every guardrails.sweep_interval.
	guardDone := a.Guardrails.SweepEvery(ctx, a.Config.Guardrails.SweepInterval.D(), time.After)
	return rec, func() { <-recovering; <-usageDone; <-guardDone }, nil
}

// recoverIntents finishes the intents of the replicas that are gone
// (orphaned). The elastic IP changes are claimed at once (their addresses
// stay locked) and undone in the background: rec.Done.
func (a *App) recoverIntents(ctx context.Context, orphaned actions.Orphaned, progress func(string)) (rec *actions.Reconciliation, err error) {
	svc := a.Service
	progress("recovering unfinished launches")
	if err := svc.RecoverLaunches(ctx, orphaned); err != nil {
		return nil, fmt.Errorf("instances: %w", err)
	}
	progress("recovering unfinished key pair changes")
	if err := svc.RecoverKeyPairs(ctx, orphaned); err != nil {
		return nil, fmt.Errorf("key pairs: %w", err)
	}
	progress("recovering unfinished security group changes")
	if err := svc.RecoverSecurityGroups(context.Background()); err != nil {
		a.Close()
		return nil, fmt.Errorf("security groups: %w", err)
	}
	progress("recovering unfinished elastic IP allocations and releases")
	if err := svc.RecoverAddresses(context.Background()); err != nil {
		a.Close()
		return nil, fmt.Errorf("elastic IPs: %w", err)
	}
	progress("recovering unfinished volume changes")
	if err := svc.RecoverVolumes(ctx, orphaned); err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	progress("removing images a crash interrupted")
	if err := svc.RecoverImages(ctx, orphaned); err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	if rec, err = svc.ReconcileAddresses(ctx, orphaned); err != nil {
		return nil, fmt.Errorf("elastic IPs: %w", err)
	}
	return rec, nil
}

// AdminHandler is the admin listener's handler (admin_listener).
func (a *App) AdminHandler() http.Handler {
	return metrics.Handler(a.Metrics, a.Ready, a.Config.AdminListener.PProf)
}

// OpenService builds the actions over an open store: the templates, the
// data brought up to date, the backend and the service. Open uses it, and
// so do admin commands that move instances while no server runs
// (stop-all). progress may be nil.
func OpenService(cfg *conf.Config, st store.Store, log zerolog.Logger, clock func() time.Time, progress func(step string)) (*actions.Service, error) {
	catalog, err := templates.Load(cfg.TemplatesDir)
	if err != nil {
		return nil, err
	}
	// Migrated before the backend reads its space (moved there by version 3).
	if progress != nil {
		progress("bringing the data directory up to date")
	}
	if err := store.Migrate(st, func(name string) int {
		t, _ := catalog.InstanceType(name)
		return t.VCPUs
	}, usage.RecountClosed); err != nil {
		return nil, err
	}
	be, err := backend.New(cfg.Backend.Name, backend.Deps{Config: cfg, Store: store.NewSpace(st, cfg.Backend.Name), Clock: clock,
		Log: log.With().Str("component", "backend").Logger(), UserGroup: userGroup(st)})
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", cfg.Backend.Name, err)
	}
	return &actions.Service{
		Config: cfg, Store: st, Backend: backend.Discover(be), Clock: clock, Log: log, Templates: catalog,
		Addresses: elasticip.New(cfg.ElasticIPs, log.With().Str("component", "elasticip").Logger()),
	}, nil
}

// Close stops the background work (what it has not finished is redone
// by the next leader) and releases the backend and the store.
func (a *App) Close() error {
	a.stopReconciling()
	if a.backgroundDone != nil {
		<-a.backgroundDone
	}
	if a.Notifier != nil {
		ctx, cancel := context.WithTimeout(context.Background(), notifyDrain)
		a.Notifier.Close(ctx)
		cancel()
	}
	return errors.Join(a.Backend.Close(), a.Audit.Close(), a.Store.Close())
}

// userGroup reads a user's group for a backend's labels.
func userGroup(st store.Store) func(string) string {
	return func(name string) string {
		var g string
		_ = st.View(func(tx store.Tx) error {
			if u, err := store.GetUser(tx, name); err == nil && u != nil {
				g = u.Group
			}
			return nil
		})
		return g
	}
}
