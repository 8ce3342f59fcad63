package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler is the admin listener: /metrics from m's registry, /livez,
// /readyz from ready, and Go's profiler under /debug/pprof/ when withPProf.
func Handler(m *Metrics, ready *Readiness, withPProf bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { answer(w, nil) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { answer(w, ready.Check(r.Context())) })
	if withPProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// probeAnswer is the JSON of /livez and /readyz.
type probeAnswer struct {
	Status string `json:"status"`           // ok | unready
	Reason string `json:"reason,omitempty"` // why not ready
}

func answer(w http.ResponseWriter, err error) {
	a, code := probeAnswer{Status: "ok"}, http.StatusOK
	if err != nil {
		a, code = probeAnswer{Status: "unready", Reason: err.Error()}, http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}

// readyFor is how long a readiness answer is reused: each check commits a
// write, and probes may come from several load balancers.
const readyFor = time.Second

// backendProbeTimeout bounds the backend's answer to a probe.
const backendProbeTimeout = 5 * time.Second

// Readiness answers whether the server can serve: the store takes a write
// and the backend answers a describe of no machines (cheap for every
// backend; the sim answers at once).
type Readiness struct {
	store   store.Store
	backend backend.Backend
	clock   func() time.Time

	mu      sync.Mutex
	checked time.Time // when last is from; zero: never
	last    error
}

// NewReadiness checks st and b, with clock deciding when an answer is stale.
func NewReadiness(st store.Store, b backend.Backend, clock func() time.Time) *Readiness {
	return &Readiness{store: st, backend: b, clock: clock}
}

// Check is nil when ready, or the reason not to be. Checks within
// readyFor of the last one reuse its answer.
func (r *Readiness) Check(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	if !r.checked.IsZero() && !now.Before(r.checked) && now.Sub(r.checked) < readyFor {
		return r.last
	}
	r.last, r.checked = r.probe(ctx, now), now
	return r.last
}

func (r *Readiness) probe(ctx context.Context, now time.Time) error {
	if err := store.ProbeWrite(r.store, now); err != nil {
		return &probeError{"store", err}
	}
	ctx, cancel := context.WithTimeout(ctx, backendProbeTimeout)
	defer cancel()
	if _, err := r.backend.Describe(ctx, nil); err != nil {
		return &probeError{"backend", err}
	}
	return nil
}

// probeError names the part that is not ready.
type probeError struct {
	part string
	err  error
}

func (e *probeError) Error() string { return e.part + ": " + e.err.Error() }
func (e *probeError) Unwrap() error { return e.err }
