// Package notify tells people about guardrail warnings and automatic
// actions: always a log line, and, when configured, a webhook POST and an
// admin script. Delivery is asynchronous, through a bounded queue per
// notifier: a slow or failing notifier never holds up a guardrail, and
// when its queue is full the notification is dropped, logged and counted.
package notify

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/rs/zerolog"
)

// Kind says what happened. The values are part of the webhook's JSON and
// the script's arguments (scripts/README.md).
type Kind string

const (
	Warning         Kind = "warning"          // an automatic action is coming
	Stopped         Kind = "stopped"          // instances stopped (max running hours, a spent budget)
	Terminated      Kind = "terminated"       // instances terminated (max running hours)
	BudgetExhausted Kind = "budget_exhausted" // the student's cost reached the budget
	ScheduledStop   Kind = "scheduled_stop"   // instances stopped by the group's schedule
	TermEnded       Kind = "term_ended"       // the group's term is over
)

// Event is one notification.
type Event struct {
	Kind        Kind      `json:"kind"`
	User        string    `json:"user"`         // "" for a whole group
	Group       string    `json:"group"`        // "" for a student in no group
	InstanceIDs []string  `json:"instance_ids"` // never null in JSON
	Reason      string    `json:"reason"`       // a sentence for people
	Time        time.Time `json:"time"`         // when it happened (the guardrail's clock)
}

// encode is ev's JSON, the same for the webhook and the script: time in
// UTC, instance_ids a list even when empty.
func encode(ev Event) ([]byte, error) {
	if ev.InstanceIDs == nil {
		ev.InstanceIDs = []string{}
	}
	ev.Time = ev.Time.UTC()
	return json.Marshal(ev)
}

// Notifier delivers an event somewhere. Notify may take long (retries) but
// MUST return once ctx ends.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, ev Event) error
}

// Dispatcher logs every event and hands it to each notifier's queue.
type Dispatcher struct {
	log    zerolog.Logger
	sinks  []*sink
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.RWMutex // closed and the queues' closing
	closed bool
	wg     sync.WaitGroup
}

type sink struct {
	n       Notifier
	queue   chan Event
	dropped atomic.Uint64
}

// New starts a dispatcher with a queue of queueSize events per notifier.
func New(log zerolog.Logger, queueSize int, notifiers ...Notifier) *Dispatcher {
	d := &Dispatcher{log: log}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for _, n := range notifiers {
		s := &sink{n: n, queue: make(chan Event, queueSize)}
		d.sinks = append(d.sinks, s)
		d.wg.Add(1)
		go d.deliver(s)
	}
	return d
}

// FromConfig is the dispatcher the guardrails' configuration asks for.
func FromConfig(g conf.Guardrails, log zerolog.Logger) *Dispatcher {
	var ns []Notifier
	if g.Webhook.URL != "" {
		ns = append(ns, &Webhook{
			URL:            g.Webhook.URL,
			Timeout:        g.Webhook.Timeout.D(),
			MaxAttempts:    g.Webhook.MaxAttempts,
			InitialBackoff: g.Webhook.InitialBackoff.D(),
			MaxBackoff:     g.Webhook.MaxBackoff.D(),
		})
	}
	if g.Script != "" {
		ns = append(ns, &Script{Path: g.Script, Timeout: g.ScriptTimeout.D(), Log: log})
	}
	return New(log, g.NotifyQueue, ns...)
}

// Notify logs ev and queues it for every notifier. It never blocks.
func (d *Dispatcher) Notify(ev Event) {
	d.log.Warn().Str("kind", string(ev.Kind)).Str("user", ev.User).Str("group", ev.Group).
		Strs("instance_ids", ev.InstanceIDs).Str("reason", ev.Reason).Time("at", ev.Time).Msg("guardrail")
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return
	}
	for _, s := range d.sinks {
		select {
		case s.queue <- ev:
		default:
			n := s.dropped.Add(1)
			d.log.Error().Str("notifier", s.n.Name()).Str("kind", string(ev.Kind)).Str("user", ev.User).
				Uint64("dropped_total", n).Msg("notification dropped: the notifier's queue is full")
		}
	}
}

// Dropped is how many notifications were dropped, over all notifiers.
func (d *Dispatcher) Dropped() uint64 {
	var n uint64
	for _, s := range d.sinks {
		n += s.dropped.Load()
	}
	return n
}

func (d *Dispatcher) deliver(s *sink) {
	defer d.wg.Done()
	for ev := range s.queue {
		if err := s.n.Notify(d.ctx, ev); err != nil {
			d.log.Error().Str("notifier", s.n.Name()).Str("kind", string(ev.Kind)).Str("user", ev.User).
				Err(err).Msg("notification failed")
		}
	}
}

// Close stops taking events and delivers those queued until ctx ends;
// then it abandons the rest (in-flight attempts are cancelled). Later
// events are only logged.
func (d *Dispatcher) Close(ctx context.Context) {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		for _, s := range d.sinks {
			close(s.queue)
		}
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		d.cancel()
		<-done
	}
	d.cancel()
}
