// Package leader decides which replica runs the background work
// (reconciliation with the backend, guardrails, intent recovery): exactly
// one at a time. Requests are served by every replica; only this work is
// elected.
package leader

import (
	"context"
	"sync/atomic"
)

// Elector runs lead while this replica is the leader.
type Elector interface {
	// Run calls lead each time this replica becomes the leader, with a
	// context that ends when it stops being the leader or ctx ends. lead
	// returning gives up the leadership (another replica may take it).
	// Run returns once ctx has ended and lead has returned.
	Run(ctx context.Context, lead func(context.Context))
	// Leading reports whether lead is running now.
	Leading() bool
}

// Always is the elector of a store that only one process opens (bbolt,
// locked by its file): the process always leads, once.
type Always struct{ leading atomic.Bool }

// Run calls lead once with ctx.
func (a *Always) Run(ctx context.Context, lead func(context.Context)) {
	a.leading.Store(true)
	defer a.leading.Store(false)
	lead(ctx)
}

// Leading reports whether lead is running.
func (a *Always) Leading() bool { return a.leading.Load() }

// Role names a replica's role for status and heartbeats.
func Role(e Elector) string {
	if e.Leading() {
		return "leader"
	}
	return "follower"
}
