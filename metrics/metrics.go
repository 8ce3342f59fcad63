// Package metrics is econe-server's Prometheus instrumentation and the
// operators' admin listener (/metrics, /livez, /readyz, pprof). Metrics live
// in a Registry of their own, made by app.Open and passed explicitly; the
// packages they observe (server, store, elasticip) know only small hooks,
// never Prometheus.
//
// Labels are bounded: actions of the table (others "unknown"), EC2 error
// codes, sigv4 failure kinds, backend operations, config group names —
// never user names or resource ids.
package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/econe/econe-server/ec2err"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every econe_ metric. A nil *Metrics observes nothing, so
// callers may hold one unconditionally.
type Metrics struct {
	Registry *prometheus.Registry
	actions  map[string]bool
	// succeeded caches each action's success counter and latency
	// observer (a *succeeded), saving the label lookups per request.
	succeeded sync.Map

	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	authFailures   *prometheus.CounterVec
	commitLatency  prometheus.Histogram
	commitBatch    prometheus.Histogram
	commitErrors   prometheus.Counter
	backendLatency *prometheus.HistogramVec
	backendErrors  *prometheus.CounterVec
	scriptRuns     *prometheus.CounterVec
	scriptLatency  *prometheus.HistogramVec
	quotaRefusals  *prometheus.CounterVec
	guardrail      *prometheus.CounterVec
	running        *prometheus.GaugeVec
}

// latencyBuckets suit an API answering in about a millisecond, with room
// for slow backends and scripts.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Label values outside the bounded sets.
const (
	Unknown = "unknown"
	Success = "Success" // the code label of a request that succeeded
)

// New registers every metric, Go runtime and process collectors included,
// in a fresh registry. actions are the API actions that get a label of
// their own.
func New(actions []string) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), actions: make(map[string]bool, len(actions))}
	for _, a := range actions {
		m.actions[a] = true
	}
	f := factory{m.Registry}
	m.requests = f.counterVec("econe_requests_total", "API requests by action and result code (the EC2 error code, or Success).", "action", "code")
	m.latency = f.histogramVec("econe_request_duration_seconds", "Time from a request's arrival to its answer written, by action.", latencyBuckets, "action")
	m.inFlight = f.gauge("econe_requests_in_flight", "API requests being served now.")
	m.authFailures = f.counterVec("econe_auth_failures_total", "Requests refused by signature verification, by reason (the sigv4 failure kind).", "reason")
	m.commitLatency = f.histogram("econe_store_commit_duration_seconds", "Time of each write transaction of the store's group commit, fsync included.", latencyBuckets)
	m.commitBatch = f.histogram("econe_store_commit_batch_size", "Updates carried by each write transaction of the group commit.", prometheus.ExponentialBuckets(1, 2, 11))
	m.commitErrors = f.counter("econe_store_commit_errors_total", "Write transactions of the group commit that failed (an update's own error included).")
	m.backendLatency = f.histogramVec("econe_backend_call_duration_seconds", "Time of each backend call, by operation.", latencyBuckets, "operation")
	m.backendErrors = f.counterVec("econe_backend_call_errors_total", "Backend calls that returned an error, by operation.", "operation")
	m.scriptRuns = f.counterVec("econe_elastic_ip_script_runs_total", "Elastic IP script runs by op (associate, disassociate) and outcome (success, failed, timeout, error).", "op", "outcome")
	m.scriptLatency = f.histogramVec("econe_elastic_ip_script_duration_seconds", "Time of each elastic IP script run, by op.", latencyBuckets, "op")
	m.quotaRefusals = f.counterVec("econe_quota_refusals_total", "Requests refused by a quota, by kind (instances, vcpus, addresses, volumes, security_groups, network_interfaces, resources).", "kind")
	m.guardrail = f.counterVec("econe_guardrail_actions_total", "Actions the guardrails took on their own, by action.", "action")
	m.running = f.gaugeVec("econe_running_instances", "Running instances, by user group (\"\" for students in none).", "group")
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// factory registers what it makes in one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// The server's hooks (server.Observer).

// InFlight moves the in-flight gauge by delta.
func (m *Metrics) InFlight(delta int) {
	if m != nil {
		m.inFlight.Add(float64(delta))
	}
}

// RequestDone counts a finished request. A refusal with a quota's code is
// also counted as a quota refusal: every quota check answers with one.
func (m *Metrics) RequestDone(action, code string, took time.Duration) {
	if m == nil {
		return
	}
	if !m.actions[action] {
		action = Unknown
	}
	if code == Success {
		m.success(action).observe(took)
		return // no quota refusal
	}
	m.requests.WithLabelValues(action, code).Inc()
	m.latency.WithLabelValues(action).Observe(took.Seconds())
	if kind, ok := quotaKinds[code]; ok {
		m.quotaRefusals.WithLabelValues(kind).Inc()
	}
}

type succeeded struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func (s *succeeded) observe(took time.Duration) {
	s.requests.Inc()
	s.latency.Observe(took.Seconds())
}

// success is action's cached series, made on its first success.
func (m *Metrics) success(action string) *succeeded {
	if s, ok := m.succeeded.Load(action); ok {
		return s.(*succeeded)
	}
	s, _ := m.succeeded.LoadOrStore(action, &succeeded{
		requests: m.requests.WithLabelValues(action, Success),
		latency:  m.latency.WithLabelValues(action),
	})
	return s.(*succeeded)
}

// AuthFailed counts a signature refusal; reason is sigv4's Kind.String()
// (a fixed set), written in snake case.
func (m *Metrics) AuthFailed(reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(strings.ReplaceAll(strings.ToLower(reason), " ", "_")).Inc()
	}
}

// quotaKinds maps the codes quota checks answer with to the kind label.
var quotaKinds = map[string]string{
	ec2err.InstanceLimitExceeded:         "instances",
	ec2err.VcpuLimitExceeded:             "vcpus",
	ec2err.AddressLimitExceeded:          "addresses",
	ec2err.VolumeLimitExceeded:           "volumes",
	ec2err.SecurityGroupLimitExceeded:    "security_groups",
	ec2err.ResourceLimitExceeded:         "resources",
	ec2err.NetworkInterfaceLimitExceeded: "network_interfaces",
	ec2err.VpcLimitExceeded:              "vpcs",
}

// Commit is the store's CommitObserver.
func (m *Metrics) Commit(batch int, took time.Duration, err error) {
	if m == nil {
		return
	}
	m.commitLatency.Observe(took.Seconds())
	m.commitBatch.Observe(float64(batch))
	if err != nil {
		m.commitErrors.Inc()
	}
}

// ScriptRun is elasticip.Scripts' Observe.
func (m *Metrics) ScriptRun(op, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.scriptRuns.WithLabelValues(op, outcome).Inc()
	m.scriptLatency.WithLabelValues(op).Observe(took.Seconds())
}

// For the quota and guardrail code.

// QuotaRefused counts a quota refusal that does not reach the client as an
// error with a quota code (one with such a code is counted by RequestDone;
// calling this for it too would count it twice), e.g. a launch trimmed to
// fit. kind is one of quotaKinds' values.
func (m *Metrics) QuotaRefused(kind string) {
	if m != nil {
		m.quotaRefusals.WithLabelValues(kind).Inc()
	}
}

// GuardrailAction counts an action a guardrail took (a fixed name such as
// "stop" or "terminate", never an id).
func (m *Metrics) GuardrailAction(action string) {
	if m != nil {
		m.guardrail.WithLabelValues(action).Inc()
	}
}

// SetRunningInstances sets the running instances of a configured user
// group ("" for students in none).
func (m *Metrics) SetRunningInstances(group string, n int) {
	if m != nil {
		m.running.WithLabelValues(group).Set(float64(n))
	}
}
