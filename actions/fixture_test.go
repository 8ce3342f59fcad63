package actions

import (
	"context"
	"encoding/xml"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/backend/backendtest"
	"github.com/econe/econe-server/backend/sim"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/xmlenc"
	"github.com/rs/zerolog"
)

// Scaffolding shared by every family's tests: a clock moved by hand, a
// real bbolt store per test, the students to call as, and one way to
// build a Request and run its handler. Each family's fixture (testEnv,
// volFixture, newAddressService) is a thin layer over these.

// manualClock is a clock the tests move by hand (tests never sleep).
type manualClock = backendtest.Clock

func newManualClock(start time.Time) *manualClock { return backendtest.NewClock(start) }

// openTestStore opens a bbolt store in t's temporary directory, closed
// when t ends.
func openTestStore(t testing.TB) *store.Bolt {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openTestSim is the sim backend with its default delays on st, reading
// clock.
func openTestSim(t testing.TB, cfg *conf.Config, st store.Store, clock *manualClock) *sim.Sim {
	t.Helper()
	b, err := sim.Open(backend.Deps{Config: cfg, Store: store.NewSpace(st, "sim"), Clock: clock.Now, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testUsers are the students a fixture calls as; a fresh map each time,
// since benchmarks add to it.
func testUsers() map[string]*store.User {
	return map[string]*store.User{
		"alice": {Name: "alice", AccountID: "111111111111"},
		"bob":   {Name: "bob", AccountID: "222222222222"},
		"carol": {Name: "carol", Group: "students", AccountID: "333333333333"},
	}
}

// newRequest is the Request the server would hand action's handler; kv
// are parameter name/value pairs, and a repeated name keeps every value,
// as in a query string.
func newRequest(user *store.User, version, action string, kv ...string) *Request {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return &Request{Context: context.Background(), ID: "test", User: user, Action: action, Version: version, Params: query.New(v)}
}

// callAction runs the handler Table() declares for r.Action and checks
// that the server's fast encoder writes its response exactly as
// encoding/xml would: every response the tests see is compared.
func callAction(s *Service, r *Request) (any, error) {
	resp, err := runHandler(s, r)
	if err == nil {
		start := xml.StartElement{Name: xml.Name{Local: r.Action + "Response"}}
		if cerr := xmlenc.Check(resp, start); cerr != nil {
			return nil, cerr
		}
	}
	return resp, err
}

// runHandler is callAction without the encoding check: what benchmarks
// measure. An action no family declares is a typo in the test: it panics
// rather than calling t.Fatal so that it is safe from any goroutine.
func runHandler(s *Service, r *Request) (any, error) {
	h, ok := Table()[r.Action]
	if !ok {
		panic("no handler for " + r.Action)
	}
	return h(s, r)
}

// withDefaults is kv plus each of the name/value pairs in defaults whose
// name kv does not set.
func withDefaults(kv []string, defaults ...string) []string {
	out := slices.Clip(kv) // so append copies rather than writing into the caller's array
	for i := 0; i+1 < len(defaults); i += 2 {
		if !setsName(kv, defaults[i]) {
			out = append(out, defaults[i], defaults[i+1])
		}
	}
	return out
}

func setsName(kv []string, name string) bool {
	for i := 0; i < len(kv); i += 2 {
		if kv[i] == name {
			return true
		}
	}
	return false
}
