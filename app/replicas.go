package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"time"

	"github.com/econe/econe-server/actions"
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
	// The nonce tells this run from an earlier one with the same pid (a
	// container's is always 1), whose intents are a crash's.
	nonce := make([]byte, 3)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	a.ReplicaID = fmt.Sprintf("%s/%d/%x", host, os.Getpid(), nonce)
	a.Service.Replica = a.ReplicaID
	log = log.With().Str("component", "leader").Str("replica", a.ReplicaID).Logger()
	e := pg.Elector(a.takeover(), func(err error) { log.Warn().Err(err).Msg("leader election") })
	a.Leader = e
	beats, err := a.heartbeats(ctx, log)
	if err != nil {
		return err
	}
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

// heartbeats writes this replica's heartbeat now, before it serves (the
// intents it records must never look like those of a replica gone), and
// then every beat until ctx ends (wall clock: liveness is real time). A
// failed write is retried at the next beat.
func (a *App) heartbeats(ctx context.Context, log zerolog.Logger) (<-chan struct{}, error) {
	r := &store.Replica{ID: a.ReplicaID, Address: a.Config.Addr(), Started: time.Now().UTC()}
	beat := func() error {
		r.Role, r.Seen = a.Role(), time.Now().UTC()
		forget := r.Seen.Add(-forgetAfter * a.beat())
		err := a.Store.Update(func(tx store.Tx) error { return store.PutReplica(tx, r, forget) })
		if err != nil {
			a.beatingSince.Store(0)
		} else {
			a.beatingSince.CompareAndSwap(0, r.Seen.UnixNano())
		}
		return err
	}
	if err := beat(); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(a.beat()):
			}
			if err := beat(); err != nil && ctx.Err() == nil {
				log.Debug().Err(err).Msg("heartbeat")
			}
		}
	}()
	return done, nil
}

// recoverEvery finishes the intents of the replicas that are gone at once
// and then every takeover, until ctx ends (RecoverOrphans).
func (a *App) recoverEvery(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if err := a.RecoverOrphans(ctx, time.Now().UTC()); err != nil && ctx.Err() == nil {
				a.Service.Log.Warn().Err(err).Msg("recovering the intents of replicas that are gone")
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(a.takeover()):
			}
		}
	}()
	return done
}

// RecoverOrphans finishes the intents (launches, key pairs, volumes,
// elastic IP changes) of the replicas that are gone at now: no heartbeat
// within a takeover. Intents of live replicas are in progress there and
// are left alone.
func (a *App) RecoverOrphans(ctx context.Context, now time.Time) error {
	orphaned, err := a.orphans(now)
	if err != nil {
		return err
	}
	rec, err := a.recoverIntents(ctx, orphaned, func(string) {})
	if err != nil {
		return err
	}
	<-rec.Done()
	return nil
}

// orphans tells the replicas gone at now: not this one, and with no
// heartbeat since now-takeover. Until this replica has itself reached the
// store for a whole takeover (after an outage of the database, say), the
// others may not have been able to either, and none is judged gone.
func (a *App) orphans(now time.Time) (actions.Orphaned, error) {
	since := now.Add(-a.takeover())
	if s := a.beatingSince.Load(); s == 0 || time.Unix(0, s).After(since) {
		return func(string) bool { return false }, nil
	}
	var live []store.Replica
	err := a.Store.View(func(tx store.Tx) error {
		var err error
		live, err = store.ListReplicas(tx, since)
		return err
	})
	seen := make(map[string]bool, len(live))
	for _, r := range live {
		seen[r.ID] = true
	}
	return func(replica string) bool { return replica != a.ReplicaID && !seen[replica] }, err
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
