package main

import (
	"strings"
	"testing"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// `instance show` finds an instance by econe's id or the backend's, and
// prints both with the student, with the server stopped and through its
// admin socket.
func TestInstanceShow(t *testing.T) {
	path, cfg, ids := stopAllFixture(t)
	a, err := app.Open(cfg, zerolog.Nop(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var backendID string
	a.Store.View(func(tx store.Tx) error {
		inst, err := store.GetInstance(tx, "ann", ids["ann"])
		if inst != nil {
			backendID = inst.BackendID
		}
		return err
	})
	a.Close()
	if backendID == "" {
		t.Fatal("the sim gave ann's instance no backend id")
	}
	cases := []struct {
		name     string
		id       string
		wantCode int
		want     []string
	}{
		{"by econe's id", ids["ann"], 0, []string{"instance:    " + ids["ann"], "owner:       ann (group cs101)", "backend:     sim", "backend id:  " + backendID}},
		{"by the backend's id", backendID, 0, []string{"instance:    " + ids["ann"], "backend id:  " + backendID}},
		{"unknown", "i-0000000000000000f", 1, []string{"no instance i-0000000000000000f"}},
	}
	run := func(how string) {
		for _, c := range cases {
			out, errOut, code := cli(t, "-c", path, "instance", "show", c.id)
			if code != c.wantCode {
				t.Errorf("%s, %s: exit %d, want %d: %s", how, c.name, code, c.wantCode, errOut)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("%s, %s: got\n%s%s\nwant a line %q", how, c.name, out, errOut, w)
				}
			}
		}
	}
	run("server stopped")
	served := serveAdminSocket(t, path)
	run("through the admin socket")
	if *served == 0 {
		t.Error("the CLI never asked the socket; want every command through it")
	}
}

// status shows whether the backend (and store) answer the readiness probe.
func TestPrintStatusReadiness(t *testing.T) {
	cases := []struct {
		name     string
		notReady string
		want     string
	}{
		{"ready", "", "  backend:  ec2 (reachable)\n"},
		{"backend down", "backend: connection refused", "  backend:  ec2 (NOT READY: backend: connection refused)\n"},
	}
	for _, c := range cases {
		var out strings.Builder
		printStatus(&out, &admin.Status{PID: 1, Backend: "ec2", NotReady: c.notReady})
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("%s: got\n%s\nwant the line %q", c.name, out.String(), c.want)
		}
	}
}
