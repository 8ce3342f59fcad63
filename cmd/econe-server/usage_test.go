package main

import (
	"context"
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/backend/backendtest"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// usageScenario drives the actions under an injected clock, with the sim
// answering at once (no delays), so every interval is known to the second:
//
//	ann, group cs101 (budget 1.00 in the config):
//	  m1.small ($0.044/h, 1 vCPU)  runs Mon 22:00-23:30, stops, runs Tue 00:30-02:00, stays stopped
//	  t3.micro ($0.0104/h, 2 vCPU) runs Mon 23:00 - Tue 01:00, then terminated
//	bob, no group, no budget: nothing.
func usageScenario(t *testing.T) string {
	cfgPath := testConfig(t, "backend:\n  sim:\n    boot_delay: 0s\n    stop_delay: 0s\n    terminate_delay: 0s\ngroups:\n  cs101:\n    budget: 1\n")
	cfg, err := conf.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	mon := time.Date(2025, 3, 3, 22, 0, 0, 0, time.UTC) // a Monday
	clock := backendtest.NewClock(mon)
	a, err := app.Open(cfg, zerolog.Nop(), clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, u := range []struct{ name, group string }{{"ann", "cs101"}, {"bob", ""}} {
		if _, err := a.Users.Add(u.name, u.group); err != nil {
			t.Fatal(err)
		}
	}
	call := func(action string, kv ...string) any {
		t.Helper()
		var user *store.User
		a.Store.View(func(tx store.Tx) (err error) { user, err = store.GetUser(tx, "ann"); return err })
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		r := &actions.Request{Context: context.Background(), ID: "test", User: user, Action: action, Version: actions.DefaultVersion, Params: query.New(v)}
		resp, err := actions.Table()[action](a.Service, r)
		if err != nil {
			t.Fatalf("%s at %s: %v", action, clock.Now().Format(time.TimeOnly), err)
		}
		return resp
	}
	launch := func(typ string) string {
		resp := call("RunInstances", "ImageId", "ami-0a1b2c3d4e5f60001", "InstanceType", typ, "MinCount", "1", "MaxCount", "1")
		return instanceIDs(t, resp)[0]
	}
	small := launch("m1.small") // Mon 22:00
	clock.Advance(time.Hour)
	micro := launch("t3.micro") // Mon 23:00
	clock.Advance(30 * time.Minute)
	call("StopInstances", "InstanceId.1", small) // Mon 23:30
	clock.Advance(time.Hour)
	call("StartInstances", "InstanceId.1", small) // Tue 00:30
	clock.Advance(30 * time.Minute)
	call("TerminateInstances", "InstanceId.1", micro) // Tue 01:00
	clock.Advance(time.Hour)
	call("StopInstances", "InstanceId.1", small) // Tue 02:00
	clock.Advance(time.Hour)
	call("DescribeInstances")
	return cfgPath
}

// instanceIDs reads the ids out of a RunInstances response without naming
// its unexported type: through its XML.
func instanceIDs(t *testing.T, resp any) []string {
	t.Helper()
	raw, err := xml.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, part := range strings.Split(string(raw), "<instanceId>")[1:] {
		ids = append(ids, part[:strings.Index(part, "<")])
	}
	return ids
}

// Figures by hand. m1.small: 1.5 h Monday + 1.5 h Tuesday at 44000 µ$/h
// = 0.066 a day; t3.micro: 1 h each day, 2 vCPU-h, 0.0104 a day. ann
// spent 0.132 + 0.0208 = 0.1528 of her 1.00: 0.8472 left.
func TestUsageReportByHand(t *testing.T) {
	cfg := usageScenario(t)
	cases := []struct {
		name string
		args []string
		want []string // lines of the output, in order
	}{
		{"csv whole", []string{"--format", "csv"}, []string{
			"user,group,instance_type,instance_hours,vcpu_hours,stopped_hours,cost,spent,budget,budget_left",
			"ann,cs101,m1.small,3.00,3.00,0.00,0.132,0.1528,1.00,0.8472",
			"ann,cs101,t3.micro,2.00,4.00,0.00,0.0208,0.1528,1.00,0.8472",
			"bob,,,0.00,0.00,0.00,0.00,0.00,,",
		}},
		{"csv by day", []string{"--format", "csv", "--by", "day", "--user", "ann"}, []string{
			"user,group,day,instance_type,instance_hours,vcpu_hours,stopped_hours,cost,spent,budget,budget_left",
			"ann,cs101,2025-03-03,m1.small,1.50,1.50,0.00,0.066,0.1528,1.00,0.8472",
			"ann,cs101,2025-03-03,t3.micro,1.00,2.00,0.00,0.0104,0.1528,1.00,0.8472",
			"ann,cs101,2025-03-04,m1.small,1.50,1.50,0.00,0.066,0.1528,1.00,0.8472",
			"ann,cs101,2025-03-04,t3.micro,1.00,2.00,0.00,0.0104,0.1528,1.00,0.8472",
		}},
		{"csv by week, a window from Tuesday 00:45", []string{"--format", "csv", "--by", "week", "--group", "cs101", "--since", "2025-03-04T00:45:00Z"}, []string{
			"user,group,week,instance_type,instance_hours,vcpu_hours,stopped_hours,cost,spent,budget,budget_left",
			// m1.small 00:45-02:00 = 1.25 h: 0.055; t3.micro 00:45-01:00 = 0.25 h: 0.0026
			"ann,cs101,2025-03-03,m1.small,1.25,1.25,0.00,0.055,0.1528,1.00,0.8472",
			"ann,cs101,2025-03-03,t3.micro,0.25,0.50,0.00,0.0026,0.1528,1.00,0.8472",
		}},
		{"csv until Monday midnight", []string{"--format", "csv", "--user", "ann", "--until", "2025-03-04"}, []string{
			"user,group,instance_type,instance_hours,vcpu_hours,stopped_hours,cost,spent,budget,budget_left",
			"ann,cs101,m1.small,1.50,1.50,0.00,0.066,0.1528,1.00,0.8472",
			"ann,cs101,t3.micro,1.00,2.00,0.00,0.0104,0.1528,1.00,0.8472",
		}},
		{"table", []string{"--user", "ann", "--by", "day", "--until", "2025-03-05"}, []string{
			"usage from the beginning to 2025-03-05T00:00:00Z",
			"USER  GROUP      PERIOD      TYPE  INSTANCE-H  VCPU-H  STOPPED-H    COST   SPENT  BUDGET    LEFT",
			" ann  cs101  2025-03-03  m1.small        1.50    1.50       0.00   0.066",
			" ann  cs101  2025-03-03  t3.micro        1.00    2.00       0.00  0.0104",
			" ann  cs101  2025-03-04  m1.small        1.50    1.50       0.00   0.066",
			" ann  cs101  2025-03-04  t3.micro        1.00    2.00       0.00  0.0104",
			" ann  cs101                 total        5.00    7.00       0.00  0.1528  0.1528    1.00  0.8472",
		}},
		{"table without budget", []string{"--user", "bob"}, []string{
			"USER  GROUP   TYPE  INSTANCE-H  VCPU-H  STOPPED-H  COST  SPENT  BUDGET  LEFT",
			" bob      -  total        0.00    0.00       0.00  0.00   0.00       —     —",
		}},
		{"json", []string{"--format", "json", "--user", "ann", "--by", "week", "--until", "2025-03-10"}, []string{
			`"since": null,`,
			`"until": "2025-03-10T00:00:00Z",`,
			`"by": "week",`,
			`"user": "ann",`,
			`"spent": 0.1528,`,
			`"budget": 1.00,`,
			`"budget_left": 0.8472,`,
			`"total": {`, `"instance_hours": 5.00,`, `"vcpu_hours": 7.00,`, `"stopped_hours": 0.00,`, `"cost": 0.1528`,
			`"period": "2025-03-03",`, `"instance_type": "m1.small",`, `"instance_hours": 3.00,`, `"vcpu_hours": 3.00,`, `"cost": 0.132`,
			`"period": "2025-03-03",`, `"instance_type": "t3.micro",`, `"instance_hours": 2.00,`, `"vcpu_hours": 4.00,`, `"cost": 0.0208`,
		}},
	}
	run := func(how string) {
		for _, c := range cases {
			out, errOut, code := cli(t, append([]string{"-c", cfg, "usage"}, c.args...)...)
			if code != 0 {
				t.Errorf("%s, %s: exit %d: %s", how, c.name, code, errOut)
				continue
			}
			if !linesInOrder(out, c.want) {
				t.Errorf("%s, %s: got\n%s\nwant these lines in order:\n%s", how, c.name, out, strings.Join(c.want, "\n"))
			}
		}
	}
	run("server stopped")
	served := serveAdminSocket(t, cfg)
	run("through the admin socket")
	if *served == 0 {
		t.Error("the CLI never asked the socket; want every report through it")
	}
}

// serveAdminSocket serves the data directory of the configuration at path
// on its admin socket, as a running server does, until the test ends; it
// returns how often the socket was asked for its status.
func serveAdminSocket(t *testing.T, path string) *int {
	t.Helper()
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, keys, err := app.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	auditLog, err := app.OpenAudit(cfg, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auditLog.Close() })
	served := new(int)
	users := &admin.Users{Store: st, Keys: keys, Config: cfg}
	sock, err := admin.ServeSocket(cfg.AdminSocketPath(), users, auditLog, func() admin.Status { *served++; return admin.Status{PID: 1} }, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Shutdown(context.Background()) })
	return served
}

// linesInOrder reports whether each of want is a line of out (trailing
// spaces and, for JSON, leading ones aside), in order.
func linesInOrder(out string, want []string) bool {
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		for i < len(lines) && strings.TrimSpace(strings.TrimRight(lines[i], " ")) != strings.TrimSpace(w) {
			i++
		}
		if i == len(lines) {
			return false
		}
		i++
	}
	return true
}

func TestUsageCommandErrors(t *testing.T) {
	cfg := testConfig(t, "")
	if _, errOut, code := cli(t, "-c", cfg, "user", "add", "ann"); code != 0 {
		t.Fatal(errOut)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"user and group", []string{"--user", "ann", "--group", "g"}, "give --user or --group, not both"},
		{"bad period", []string{"--by", "month"}, `--by: "month" is not a period: use day or week`},
		{"bad format", []string{"--format", "xlsx"}, `--format: "xlsx" is not a format`},
		{"bad time", []string{"--since", "yesterday"}, `--since: "yesterday" is neither a date`},
		{"window backwards", []string{"--since", "2025-03-05", "--until", "2025-03-04"}, "the window ends (2025-03-04T00:00:00Z) before it begins"},
		{"unknown user", []string{"--user", "zed"}, "usage of user zed: no such user"},
	}
	for _, c := range cases {
		out, errOut, code := cli(t, append([]string{"-c", cfg, "usage"}, c.args...)...)
		if code != 1 || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%s: got exit %d, %q %q; want exit 1 with %q", c.name, code, out, errOut, c.want)
		}
	}
}

func TestUsageHelp(t *testing.T) {
	out, _, code := cli(t, "usage", "--help")
	for _, want := range []string{"--by PERIOD", "--format FORMAT", "budget_left", "admin socket"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("econe-server usage --help: got exit %d, %q; want %q", code, out, want)
		}
	}
}
