package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// The sim's machines change state at once, so what stop-all stops is
// stopped when the command returns.
const stopAllTestConfig = `groups:
  cs101: {}
backend:
  sim:
    boot_delay: 0s
    stop_delay: 0s
    terminate_delay: 0s
`

// launchAs runs one instance as user in a's service and returns its id.
func launchAs(t *testing.T, a *app.App, user string) string {
	t.Helper()
	var u *store.User
	if err := a.Store.View(func(tx store.Tx) (err error) { u, err = store.GetUser(tx, user); return err }); err != nil {
		t.Fatal(err)
	}
	v := url.Values{"ImageId": {"ami-0a1b2c3d4e5f60001"}, "MinCount": {"1"}, "MaxCount": {"1"}}
	r := &actions.Request{Context: context.Background(), ID: "test", User: u, Action: "RunInstances", Version: actions.DefaultVersion, Params: query.New(v)}
	if _, err := actions.Table()["RunInstances"](a.Service, r); err != nil {
		t.Fatalf("RunInstances as %s: %v", user, err)
	}
	var id string
	a.Store.View(func(tx store.Tx) error {
		insts, err := store.ListInstances(tx, user)
		if len(insts) > 0 {
			id = insts[len(insts)-1].ID
		}
		return err
	})
	return id
}

// stopAllFixture is a data directory with ann (group cs101) and bob, one
// instance each; it returns the config path and their instance ids.
func stopAllFixture(t *testing.T) (string, *conf.Config, map[string]string) {
	t.Helper()
	path := testConfig(t, stopAllTestConfig)
	for _, args := range [][]string{{"user", "add", "ann", "--group", "cs101"}, {"user", "add", "bob"}} {
		if _, errOut, code := cli(t, append([]string{"-c", path}, args...)...); code != 0 {
			t.Fatal(errOut)
		}
	}
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(cfg, zerolog.Nop(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	return path, cfg, map[string]string{"ann": launchAs(t, a, "ann"), "bob": launchAs(t, a, "bob")}
}

type stopAllCase struct {
	name     string
	args     []string
	wantCode int
	want     []string
}

func runStopAllCases(t *testing.T, path string, cases []stopAllCase) {
	t.Helper()
	for _, c := range cases {
		out, errOut, code := cli(t, append([]string{"-c", path, "stop-all"}, c.args...)...)
		for _, want := range c.want {
			if code != c.wantCode || !strings.Contains(out+errOut, want) {
				t.Errorf("%s: stop-all %v: got exit %d, stdout %q, stderr %q; want exit %d with %q", c.name, c.args, code, out, errOut, c.wantCode, want)
			}
		}
	}
}

// With the server stopped, stop-all opens the data directory and the
// backend itself; each use is audited.
func TestStopAllInProcess(t *testing.T) {
	path, _, ids := stopAllFixture(t)
	runStopAllCases(t, path, []stopAllCase{
		{"no target", nil, 1, []string{"name exactly one of a user (--user), a group (--group) or everyone (--all)"}},
		{"two targets", []string{"--user", "ann", "--all"}, 1, []string{"name exactly one"}},
		{"unknown user", []string{"--user", "zed"}, 1, []string{"user zed: no such user"}},
		{"user", []string{"--user", "ann"}, 0, []string{"ann   " + ids["ann"] + "  running   stopping", "stopped 1 instance(s) of user ann"}},
		{"again", []string{"--user", "ann"}, 0, []string{"stopped 0 instance(s) of user ann"}},
		{"group, terminate", []string{"--group", "cs101", "--terminate"}, 0, []string{ids["ann"] + "  stopped   shutting-down", "terminated 1 instance(s) of group cs101"}},
		{"everyone", []string{"--all", "--json"}, 0, []string{`"instance_id": "` + ids["bob"] + `"`, `"previous_state": "running"`, `"current_state": "stopping"`}},
	})
	out, errOut, code := cli(t, "-c", path, "audit", "--action", "stop-all.terminate")
	if code != 0 || !strings.Contains(out, "group:cs101") || !strings.Contains(out, "admin:") || !strings.Contains(out, ids["ann"]) {
		t.Errorf("audit --action stop-all.terminate: got exit %d, %q %q; want the group, the admin and the instance", code, out, errOut)
	}
}

// While the server runs, stop-all goes through its admin socket.
func TestStopAllThroughSocket(t *testing.T) {
	path, cfg, ids := stopAllFixture(t)
	a, err := app.Open(cfg, zerolog.Nop(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	served := 0
	sock, err := admin.ServeSocket(cfg.AdminSocketPath(), a.Users, a.Audit, func() admin.Status { served++; return admin.Status{PID: 1} }, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Shutdown(context.Background())
	runStopAllCases(t, path, []stopAllCase{
		{"unknown user", []string{"--user", "zed"}, 1, []string{"no such user"}},
		{"user, terminate", []string{"--user", "bob", "--terminate"}, 0, []string{ids["bob"] + "  running   shutting-down", "terminated 1 instance(s) of user bob"}},
		{"group", []string{"--group", "cs101"}, 0, []string{ids["ann"] + "  running   stopping", "stopped 1 instance(s) of group cs101"}},
	})
	if served == 0 {
		t.Error("the CLI never asked the socket; want every command through it")
	}
}
