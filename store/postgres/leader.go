package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// leaderLock is the session advisory lock the leader holds ("econL").
const leaderLock = 0x65636f6e4c

// Elector elects the leader among the replicas sharing the database: the
// one whose dedicated connection (not the pool's: a pooled connection
// would hand the lock to whatever request borrows it next) holds
// pg_try_advisory_lock(leaderLock). The lock lives as long as that
// session, so a leader that dies loses it:
//   - a killed process: its connection closes, at once;
//   - a host that froze or was cut off: the server ends the session once
//     it has been idle for idle_session_timeout (takeover/2), while the
//     leader pings it every takeover/5.
//
// Followers try the lock every takeover/5, so one leads again within
// takeover. A leader whose ping fails stops leading at once; it stops
// before its session is ended unless it is frozen, and a frozen one does
// nothing until it runs again, when its next ping fails: the background
// work is idempotent and recorded first, so even that overlap repeats and
// skips nothing.
type Elector struct {
	conn    *pgx.ConnConfig
	every   time.Duration
	onError func(error)
	leading atomic.Bool
}

// Elector makes the store's elector; onError is told why a try failed
// (the database unreachable, the leader's session lost).
func (s *Store) Elector(takeover time.Duration, onError func(error)) *Elector {
	cfg := s.pool.Config().ConnConfig.Copy()
	every := takeover / 5
	cfg.ConnectTimeout = every
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	cfg.RuntimeParams["idle_session_timeout"] = ms(takeover / 2)
	cfg.RuntimeParams["statement_timeout"] = ms(every)
	// The server notices a dead peer's socket too, not only an idle one.
	cfg.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(max(1, int(every/time.Second)))
	cfg.RuntimeParams["tcp_keepalives_interval"] = "1"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	return &Elector{conn: cfg, every: every, onError: onError}
}

// Leading reports whether this replica leads now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run tries the lock every takeover/5; holding it, it runs lead until the
// session is lost, lead returns, or ctx ends, then lets go of the lock.
func (e *Elector) Run(ctx context.Context, lead func(context.Context)) {
	for {
		if conn := e.acquire(ctx); conn != nil {
			e.hold(ctx, conn, lead)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(e.every):
		}
	}
}

// acquire connects and takes the lock; nil when it could not.
func (e *Elector) acquire(ctx context.Context) *pgx.Conn {
	tctx, cancel := context.WithTimeout(ctx, e.every)
	defer cancel()
	conn, err := pgx.ConnectConfig(tctx, e.conn)
	if err != nil {
		e.fail(ctx, fmt.Errorf("leader election: %w", err))
		return nil
	}
	var got bool
	if err := conn.QueryRow(tctx, `SELECT pg_try_advisory_lock($1)`, int64(leaderLock)).Scan(&got); err != nil || !got {
		e.fail(ctx, err)
		conn.Close(context.Background())
		return nil
	}
	return conn
}

// hold runs lead while conn answers its pings, and closes conn (releasing
// the lock) after lead has returned.
func (e *Elector) hold(ctx context.Context, conn *pgx.Conn, lead func(context.Context)) {
	defer conn.Close(context.Background())
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	e.leading.Store(true)
	go func() {
		defer close(done)
		lead(lctx)
	}()
	defer func() {
		cancel()
		<-done
		e.leading.Store(false)
	}()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-time.After(e.every):
		}
		pctx, pcancel := context.WithTimeout(ctx, e.every)
		err := conn.Ping(pctx)
		pcancel()
		if err != nil {
			e.fail(ctx, fmt.Errorf("leader election: lost the leader's session: %w", err))
			return
		}
	}
}

func (e *Elector) fail(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil && e.onError != nil {
		e.onError(err)
	}
}
