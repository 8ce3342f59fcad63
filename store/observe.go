package store

import "time"

// CommitObserver is told of each write transaction the group commit runs:
// how many updates it carried, how long it took (commit and fsync
// included) and whether it failed. It keeps metrics libraries out of the
// store; it runs on the committer and must be quick.
type CommitObserver func(batch int, took time.Duration, err error)

// ObserveCommits sets the observer of s's commits (nil: none). Set it
// right after opening, before the store is shared.
func (s *Bolt) ObserveCommits(fn CommitObserver) { s.commits.observe.Store(&fn) }

// readyKey is the meta key the readiness probe rewrites.
const readyKey = "ready_probe"

// ProbeWrite proves st takes writes: it commits the time to a meta key (one
// small durable commit, so callers rate-limit it).
func ProbeWrite(st Store, now time.Time) error {
	stamp := []byte(now.UTC().Format(time.RFC3339Nano))
	return st.Update(func(tx Tx) error { return tx.Put(BucketMeta, readyKey, stamp) })
}
