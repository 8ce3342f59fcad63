// Package app assembles econe-server from its configuration: store,
// keyring, backend, actions and the HTTP server. The CLI's run command and
// the end-to-end tests build the same thing through Open.
package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/backend"
	_ "github.com/econe/econe-server/backend/all" // registers the built-in backends
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/elasticip"
	"github.com/econe/econe-server/keyring"
	"github.com/econe/econe-server/server"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
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
}

// Files under the data directory.
const (
	DBFile      = "econe.db"
	KeyFile     = "secret.key"
	PIDFile     = "econe-server.pid"
	DefaultLog  = "econe-server.log"
	lockTimeout = 2 * time.Second
)

// OpenStore opens the store and keyring of a data directory: what admin
// commands need when the server is not running.
func OpenStore(cfg *conf.Config) (store.Store, *keyring.Keyring, error) {
	keys, err := keyring.LoadOrCreate(filepath.Join(cfg.DataDir, KeyFile))
	if err != nil {
		return nil, nil, err
	}
	st, err := store.OpenBolt(filepath.Join(cfg.DataDir, DBFile), lockTimeout)
	if err != nil {
		return nil, nil, err
	}
	return st, keys, nil
}

// Open builds the whole server. clock may be nil (time.Now).
func Open(cfg *conf.Config, log zerolog.Logger, clock func() time.Time) (*App, error) {
	if clock == nil {
		clock = func() time.Time { return time.Now().UTC() }
	}
	st, keys, err := OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	be, err := backend.New(cfg.Backend.Name, backend.Deps{Config: cfg, Store: st, Clock: clock, Log: log.With().Str("component", "backend").Logger()})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("backend %s: %w", cfg.Backend.Name, err)
	}
	catalog, err := templates.Load(cfg.TemplatesDir)
	if err != nil {
		be.Close()
		st.Close()
		return nil, err
	}
	svc := &actions.Service{
		Config: cfg, Store: st, Backend: be, Clock: clock, Log: log, Templates: catalog,
		Addresses: elasticip.New(cfg.ElasticIPs, log.With().Str("component", "elasticip").Logger()),
	}
	a := &App{
		Config: cfg, Store: st, Keys: keys, Backend: be, Service: svc,
		Server: server.New(cfg, svc, keys, log),
		Users:  &admin.Users{Store: st, Keys: keys, Clock: clock},
	}
	if err := svc.RecoverLaunches(context.Background()); err != nil {
		a.Close()
		return nil, fmt.Errorf("instances: %w", err)
	}
	if err := svc.RecoverVolumes(context.Background()); err != nil {
		a.Close()
		return nil, fmt.Errorf("volumes: %w", err)
	}
	// Before serving: finish or undo what a crash left half-done on the network.
	if err := svc.ReconcileAddresses(context.Background()); err != nil {
		a.Close()
		return nil, fmt.Errorf("elastic IPs: %w", err)
	}
	return a, nil
}

// Close releases the backend and the store.
func (a *App) Close() error {
	berr := a.Backend.Close()
	serr := a.Store.Close()
	if berr != nil {
		return berr
	}
	return serr
}
