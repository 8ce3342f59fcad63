package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
	"github.com/rs/zerolog"
)

// Elector tells whether this replica leads: runs the background work.
type Elector interface{ Leading() bool }

// alone is the elector of a bbolt store, which one process opens: it
// always leads.
type alone struct{}

func (alone) Leading() bool { return true }

// Role is this replica's role: leader or follower.
func (a *App) Role() string {
	if a.Leader.Leading() {
		return "leader"
	}
	return "follower"
}

// heartbeatsMissed is how many heartbeats a replica may miss before the
// others stop showing it; forgetAfter how many before its record goes.
const (
	heartbeatsMissed = 3
	forgetAfter      = 1000
)

// elect starts the background work. On bbolt it runs here, before the
// server serves, and its errors stop the start. On PostgreSQL it runs on
// whichever replica is elected, and every replica writes a heartbeat.
func (a *App) elect(log zerolog.Logger, progress func(string)) error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stopReconciling = cancel
	done := make(chan struct{})
	pg, ok := a.Store.(*postgres.Store)
	if !ok {
		a.Leader = alone{}
		rec, wait, err := a.background(ctx, progress)
		if err != nil {
			return err
		}
		a.Reconciling = rec
		go func() { defer close(done); wait() }()
		a.backgroundDone = done
		return nil
	}
	host, _ := os.Hostname()
	a.ReplicaID = fmt.Sprintf("%s/%d", host, os.Getpid())
	log = log.With().Str("component", "leader").Str("replica", a.ReplicaID).Logger()
	e := pg.Elector(a.takeover(), func(err error) { log.Warn().Err(err).Msg("leader election") })
	a.Leader = e
	beats := a.heartbeats(ctx, log)
	go func() {
		defer close(done)
		e.Run(ctx, func(lctx context.Context) {
			log.Info().Msg("this replica leads: it runs the background work")
			_, wait, err := a.background(lctx, func(string) {})
			if err != nil {
				log.Error().Err(err).Msg("background work could not start; letting another replica lead")
				return
			}
			<-lctx.Done()
			wait()
			log.Info().Msg("this replica no longer leads")
		})
		<-beats
	}()
	a.backgroundDone = done
	return nil
}

func (a *App) takeover() time.Duration {
	if d := a.Config.Store.LeaderTakeover.D(); d > 0 {
		return d
	}
	return conf.DefaultLeaderTakeover.D()
}

// beat is how often a replica writes its heartbeat.
func (a *App) beat() time.Duration { return a.takeover() / 5 }

// heartbeats writes this replica's heartbeat at once and every beat until
// ctx ends (wall clock: liveness is real time). A failed write is retried
// at the next beat.
func (a *App) heartbeats(ctx context.Context, log zerolog.Logger) <-chan struct{} {
	done := make(chan struct{})
	r := &store.Replica{ID: a.ReplicaID, Address: a.Config.Addr(), Started: time.Now().UTC()}
	go func() {
		defer close(done)
		for {
			r.Role, r.Seen = a.Role(), time.Now().UTC()
			forget := r.Seen.Add(-forgetAfter * a.beat())
			if err := a.Store.Update(func(tx store.Tx) error { return store.PutReplica(tx, r, forget) }); err != nil && ctx.Err() == nil {
				log.Debug().Err(err).Msg("heartbeat")
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(a.beat()):
			}
		}
	}()
	return done
}

// Replicas are the replicas whose heartbeat is recent, this one included
// (none on bbolt: one process).
func (a *App) Replicas() ([]store.Replica, error) {
	if a.ReplicaID == "" {
		return nil, nil
	}
	var out []store.Replica
	since := time.Now().UTC().Add(-heartbeatsMissed * a.beat())
	err := a.Store.View(func(tx store.Tx) error {
		var err error
		out, err = store.ListReplicas(tx, since)
		return err
	})
	return out, err
}
