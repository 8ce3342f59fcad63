package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/econe/econe-server/conf"
)

// testNow is Saturday 2026-11-21 23:46 UTC: already Sunday in Tokyo, still
// Saturday afternoon in Los Angeles.
func TestTermEnd(t *testing.T) {
	cases := []struct {
		name, zone, termEnd string
		signer              string // who signs: bob is in cs61c, alice in no group
		wantCode            string // "" for success
		wantMsg             []string
	}{
		{"no term end", "UTC", "", "bob", "", nil},
		{"last day of term", "UTC", "2026-11-21", "bob", "", nil},
		{"day after the term", "UTC", "2026-11-20", "bob", "AuthFailure",
			[]string{"The term of your course (group cs61c) has ended", "last day was 2026-11-20", "stopped working at 2026-11-21 00:00 UTC"}},
		{"already the next day in the time zone", "Asia/Tokyo", "2026-11-21", "bob", "AuthFailure",
			[]string{"last day was 2026-11-21", "2026-11-22 00:00 JST"}},
		{"still the last day in the time zone", "America/Los_Angeles", "2026-11-21", "bob", "", nil},
		{"another group's term", "UTC", "2026-11-20", "alice", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil, func(cfg *conf.Config) {
				cfg.Guardrails.TimeZone = c.zone
				cfg.Groups = map[string]conf.Group{"cs61c": {TermEnd: c.termEnd}}
			})
			bob, err := f.users.Add("bob", "cs61c")
			if err != nil {
				t.Fatal(err)
			}
			cred := f.cred
			if c.signer == "bob" {
				cred = bob
			}
			req, body := f.newRequest(t, http.MethodPost, "/", params("Action", "DescribeRegions"))
			signV4(t, req, body, cred.AccessKeyID, cred.SecretAccessKey)
			got := do(t, req)
			if c.wantCode == "" {
				if got.status != http.StatusOK {
					t.Fatalf("got status %d, want 200; body:\n%s", got.status, got.body)
				}
				return
			}
			msg := checkError(t, got, http.StatusUnauthorized, c.wantCode)
			for _, want := range c.wantMsg {
				if !strings.Contains(msg, want) {
					t.Errorf("got message %q, want it to contain %q", msg, want)
				}
			}
			if logs := f.logs.String(); !strings.Contains(logs, `"user":"bob"`) || !strings.Contains(logs, `"error_code":"AuthFailure"`) {
				t.Errorf("got log %s, want the refusal logged with the student's name", logs)
			}
		})
	}
}

// The term's end is told only to the key's owner: a bad signature is
// refused as any other, without saying the term ended.
func TestTermEndNeedsValidSignature(t *testing.T) {
	f := newFixture(t, nil, func(cfg *conf.Config) {
		cfg.Groups = map[string]conf.Group{"cs61c": {TermEnd: "2026-01-01"}}
	})
	bob, err := f.users.Add("bob", "cs61c")
	if err != nil {
		t.Fatal(err)
	}
	req, body := f.newRequest(t, http.MethodPost, "/", params("Action", "DescribeRegions"))
	signV4(t, req, body, bob.AccessKeyID, "not-"+bob.SecretAccessKey)
	msg := checkError(t, do(t, req), http.StatusUnauthorized, "AuthFailure")
	if strings.Contains(msg, "term") {
		t.Errorf("got message %q for a bad signature, want nothing about the term", msg)
	}
}
