package econetest

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Proxy stands on loopback in front of an endpoint: between econe-server
// and an EC2 endpoint (moto), or between a client and econe-server. It
// counts the calls it forwards by Action, keeps each call the endpoint
// refused (Refused), and can hold the answer to one call after the
// endpoint has acted on it, so that a test can stop the server between a
// change in the cloud and its record.
type Proxy struct {
	URL string

	mu      sync.Mutex
	calls   map[string]int
	refused []string
	hold    string        // the Action whose next answer is held
	held    chan struct{} // closed once that answer is held
	free    chan struct{} // closed to let it go
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
	rp.ModifyResponse = func(resp *http.Response) error {
		if err := p.noteRefusal(resp); err != nil {
			return err
		}
		return p.maybeHold(resp)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") == "" {
			form = r.URL.Query()
		}
		p.mu.Lock()
		p.calls[form.Get("Action")]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), formKey{}, form)))
	}))
	t.Cleanup(srv.Close)
	// Before srv.Close (cleanups run last first): a held answer must go.
	t.Cleanup(p.release)
	p.URL = srv.URL
	return p
}

// formKey carries a call's parameters from the handler to the answer.
type formKey struct{}

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

// Refused lists the calls the endpoint answered with an error, in order:
// the status, the Action and every parameter by name (the keys travel in
// the Authorization header, which is not kept), and the answer.
func (p *Proxy) Refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.refused)
}

func (p *Proxy) noteRefusal(resp *http.Response) error {
	if resp.StatusCode < http.StatusBadRequest {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := resp.Request.Context().Value(formKey{}).(url.Values)
	names := slices.Sorted(maps.Keys(form))
	call := []string{strconv.Itoa(resp.StatusCode), form.Get("Action")}
	for _, n := range names {
		if n != "Action" {
			call = append(call, n+"="+strings.Join(form[n], ","))
		}
	}
	p.mu.Lock()
	p.refused = append(p.refused, strings.Join(call, " ")+"\n  answer: "+string(body))
	p.mu.Unlock()
	return nil
}

func (p *Proxy) maybeHold(resp *http.Response) error {
	ctx := resp.Request.Context()
	form, _ := ctx.Value(formKey{}).(url.Values)
	action := form.Get("Action")
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
