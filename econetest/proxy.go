package econetest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// Proxy stands on loopback between econe-server and an EC2 endpoint
// (moto): it counts the calls it forwards by Action, and can hold the
// answer to one call after the endpoint has acted on it, so that a test
// can stop the server between a change in the cloud and its record.
type Proxy struct {
	URL string

	mu    sync.Mutex
	calls map[string]int
	hold  string        // the Action whose next answer is held
	held  chan struct{} // closed once that answer is held
	free  chan struct{} // closed to let it go
}

// NewProxy forwards to target until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = p.maybeHold
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		action := form.Get("Action")
		if action == "" {
			action = r.URL.Query().Get("Action")
		}
		p.mu.Lock()
		p.calls[action]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actionKey{}, action)))
	}))
	t.Cleanup(srv.Close)
	// Before srv.Close (cleanups run last first): a held answer must go.
	t.Cleanup(p.release)
	p.URL = srv.URL
	return p
}

// actionKey carries a call's Action from the handler to maybeHold.
type actionKey struct{}

// Calls is how many calls of action the proxy forwarded.
func (p *Proxy) Calls(action string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[action]
}

// Total is how many calls the proxy forwarded.
func (p *Proxy) Total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		n += c
	}
	return n
}

// Hold holds the answer to the next call of action once the endpoint has
// answered it; the channel is closed when it is held. The answer goes on
// when the test calls Release, ends, or its client hangs up.
func (p *Proxy) Hold(action string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold, p.held, p.free = action, make(chan struct{}), make(chan struct{})
	return p.held
}

// Release lets a held answer go.
func (p *Proxy) Release() { p.release() }

func (p *Proxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free != nil {
		close(p.free)
		p.free = nil
	}
}

func (p *Proxy) maybeHold(resp *http.Response) error {
	ctx := resp.Request.Context()
	action, _ := ctx.Value(actionKey{}).(string)
	p.mu.Lock()
	if p.hold == "" || action != p.hold {
		p.mu.Unlock()
		return nil
	}
	p.hold = ""
	held, free := p.held, p.free
	p.mu.Unlock()
	close(held)
	select {
	case <-free:
	case <-ctx.Done():
	}
	return nil
}
