package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/rs/zerolog"
)

var testEvent = Event{
	Kind: Stopped, User: "alice", Group: "cs61c", InstanceIDs: []string{"i-0123456789abcdef0", "i-0fedcba9876543210"},
	Reason: "ran longer than 8h (max running hours)", Time: time.Date(2026, 11, 21, 23, 0, 0, 0, time.FixedZone("CET", 3600)),
}

// wantJSON is testEvent as the webhook and the script receive it.
var wantJSON = map[string]any{
	"kind": "stopped", "user": "alice", "group": "cs61c",
	"instance_ids": []any{"i-0123456789abcdef0", "i-0fedcba9876543210"},
	"reason":       "ran longer than 8h (max running hours)", "time": "2026-11-21T22:00:00Z",
}

// hook is a loopback HTTP server answering the webhook's attempts with
// the statuses given, one per attempt (200 once they run out); an answer
// of 0 hangs until the client gives up.
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	answers  []int
	requests []*http.Request
	bodies   [][]byte
}

func newHook(t *testing.T, answers ...int) *hook {
	h := &hook{answers: answers}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.requests = append(h.requests, r)
		h.bodies = append(h.bodies, body)
		status := http.StatusOK
		if len(h.answers) > 0 {
			status, h.answers = h.answers[0], h.answers[1:]
		}
		h.mu.Unlock()
		if status == 0 {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) attempts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.requests)
}

func TestWebhook(t *testing.T) {
	cases := []struct {
		name         string
		answers      []int
		maxAttempts  int
		wantAttempts int
		wantBackoffs []time.Duration
		wantErr      string // "" for delivered
	}{
		{"delivered", nil, 5, 1, nil, ""},
		{"retried after 500s", []int{500, 503}, 5, 3, []time.Duration{time.Second, 2 * time.Second}, ""},
		{"429 retried", []int{429}, 5, 2, []time.Duration{time.Second}, ""},
		{"backoff capped, attempts bounded", []int{500, 500, 500, 500, 500, 500}, 5, 5,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}, "attempt 5 of 5: answered 500 Internal Server Error"},
		{"4xx not retried", []int{404}, 5, 1, nil, "attempt 1 of 5: answered 404 Not Found (not retried)"},
		{"attempt timed out, then delivered", []int{0}, 5, 2, []time.Duration{time.Second}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHook(t, c.answers...)
			var backoffs []time.Duration
			w := &Webhook{
				URL: h.URL + "/hook?token=s3cret", Timeout: 200 * time.Millisecond, MaxAttempts: c.maxAttempts,
				InitialBackoff: time.Second, MaxBackoff: 4 * time.Second,
				wait: func(_ context.Context, d time.Duration) error { backoffs = append(backoffs, d); return nil },
			}
			err := w.Notify(context.Background(), testEvent)
			if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("got error %v, want %q", err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("got error %q with the URL's token, want it redacted", err)
			}
			if got := h.attempts(); got != c.wantAttempts {
				t.Errorf("got %d attempts, want %d", got, c.wantAttempts)
			}
			if !reflect.DeepEqual(backoffs, c.wantBackoffs) {
				t.Errorf("got backoffs %v, want %v", backoffs, c.wantBackoffs)
			}
			for i, r := range h.requests {
				var got map[string]any
				if err := json.Unmarshal(h.bodies[i], &got); err != nil || !reflect.DeepEqual(got, wantJSON) {
					t.Errorf("attempt %d: got body %s (%v), want %v", i+1, h.bodies[i], err, wantJSON)
				}
				if r.Method != http.MethodPost || r.URL.Path != "/hook" || r.URL.Query().Get("token") != "s3cret" || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("attempt %d: got %s %s Content-Type %q, want POST /hook?token=s3cret application/json", i+1, r.Method, r.URL, r.Header.Get("Content-Type"))
				}
			}
		})
	}
}

// The real wait between attempts ends with the context: a webhook being
// retried does not hold up Close.
func TestWebhookBackoffEndsWithContext(t *testing.T) {
	h := newHook(t, 500)
	answered := make(chan struct{}, 1)
	// The first answer reaches the webhook before the context ends, so the
	// cancel lands in the wait, whatever the scheduling.
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		answered <- struct{}{}
		return resp, err
	})}
	w := &Webhook{URL: h.URL, Timeout: time.Second, MaxAttempts: 3, InitialBackoff: time.Hour, MaxBackoff: time.Hour, Client: client}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Notify(ctx, testEvent) }()
	<-answered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "answered 500") {
		t.Errorf("got %v, want context.Canceled naming the last error", err)
	}
}

// writeScript writes an executable shell script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScriptReceivesEvent(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "record")
	path := writeScript(t, dir, "notify.sh", `for a in "$@"; do printf '%s\n' "$a"; done > `+record+`
echo "--env--" >> `+record+`
env >> `+record+`
`)
	s := &Script{Path: path, Timeout: 10 * time.Second, Log: zerolog.Nop()}
	if err := s.Notify(context.Background(), testEvent); err != nil {
		t.Fatalf("got %v, want success", err)
	}
	raw, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	args, env, _ := strings.Cut(string(raw), "--env--\n")
	got := strings.Split(strings.TrimSuffix(args, "\n"), "\n")
	if len(got) != 3 || got[0] != "stopped" || got[1] != "alice" {
		t.Fatalf("got args %q, want KIND USER BASE64_EVENT", got)
	}
	decoded, err := base64.StdEncoding.DecodeString(got[2])
	var event map[string]any
	if err != nil || json.Unmarshal(decoded, &event) != nil || !reflect.DeepEqual(event, wantJSON) {
		t.Errorf("got event %s (%v), want %v", decoded, err, wantJSON)
	}
	for _, want := range []string{
		"ECONE_EVENT_KIND=stopped\n", "ECONE_USER=alice\n", "ECONE_GROUP=cs61c\n",
		"ECONE_INSTANCE_IDS=i-0123456789abcdef0 i-0fedcba9876543210\n",
		"ECONE_REASON=ran longer than 8h (max running hours)\n", "ECONE_TIME=2026-11-21T22:00:00Z\n",
	} {
		if !strings.Contains(env, want) {
			t.Errorf("got environment %q, want it to contain %q", env, want)
		}
	}
}

// A script that hangs is stopped at the timeout and reported so. Only a
// timeout ends it, however slow the machine; that the timeout kills the
// script's whole process group is scriptrun's (TestRunTimeoutKillsTheGroup),
// which can wait for the child to start before the deadline passes.
func TestHangingScriptTimesOut(t *testing.T) {
	path := writeScript(t, t.TempDir(), "hang.sh", "exec sleep 600\n")
	var logs bytes.Buffer
	s := &Script{Path: path, Timeout: 300 * time.Millisecond, Log: zerolog.New(&logs)}
	err := s.Notify(context.Background(), testEvent)
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms (its process group was killed)") {
		t.Fatalf("got %v, want a timeout", err)
	}
	if !strings.Contains(logs.String(), `"message":"notifier script"`) {
		t.Errorf("got log %q, want the script's run logged", logs.String())
	}
}

// blocked is a notifier that hangs until its context ends.
type blocked struct{ started chan Event }

func (b *blocked) Name() string { return "blocked" }
func (b *blocked) Notify(ctx context.Context, ev Event) error {
	select {
	case b.started <- ev:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-ctx.Done()
	return ctx.Err()
}

// recorder is a notifier that records what it is given.
type recorder struct {
	mu  sync.Mutex
	got []Event
}

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Notify(_ context.Context, ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, ev)
	return nil
}

func TestFailingNotifierNeverBlocks(t *testing.T) {
	var logs syncBuffer
	b := &blocked{started: make(chan Event)}
	const queue, sent = 2, 10
	d := New(zerolog.New(&logs), queue, b)
	d.Notify(testEvent)
	<-b.started // the notifier hangs on the first event; its queue fills
	for range sent - 1 {
		d.Notify(testEvent) // returns at once although the notifier hangs
	}
	if got, want := d.Dropped(), uint64(sent-1-queue); got != want {
		t.Errorf("got %d dropped, want %d", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no time to drain: the hung attempt and the queue are abandoned
	d.Close(ctx)
	d.Notify(testEvent) // after Close: logged only
	if got := strings.Count(logs.String(), `"message":"guardrail"`); got != sent+1 {
		t.Errorf("got %d guardrail log lines, want one per event (%d)", got, sent+1)
	}
	if got := strings.Count(logs.String(), "notification dropped: the notifier's queue is full"); got != sent-1-queue {
		t.Errorf("got %d drop lines, want %d", got, sent-1-queue)
	}
}

// Close delivers what is queued when it has the time.
func TestCloseDrainsQueue(t *testing.T) {
	r := &recorder{}
	d := New(zerolog.Nop(), 100, r)
	for range 50 {
		d.Notify(testEvent)
	}
	d.Close(context.Background())
	if len(r.got) != 50 || d.Dropped() != 0 {
		t.Errorf("got %d delivered, %d dropped, want 50, 0", len(r.got), d.Dropped())
	}
}

// syncBuffer collects log lines written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestFromConfig(t *testing.T) {
	g := conf.Default().Guardrails
	cases := []struct {
		name      string
		webhook   string
		script    string
		wantNames []string
	}{
		{"log only", "", "", nil},
		{"webhook", "https://hooks.example.edu/x", "", []string{"webhook"}},
		{"both", "https://hooks.example.edu/x", "/bin/true", []string{"webhook", "script"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g.Webhook.URL, g.Script = c.webhook, c.script
			d := FromConfig(g, zerolog.Nop())
			defer d.Close(context.Background())
			var names []string
			for _, s := range d.sinks {
				names = append(names, s.n.Name())
			}
			if !reflect.DeepEqual(names, c.wantNames) {
				t.Errorf("got notifiers %v, want %v", names, c.wantNames)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
