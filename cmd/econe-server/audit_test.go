package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/audit"
	"github.com/rs/zerolog"
)

// `audit` reads the rotated files and the current one, joins each
// request with its result, and filters; the admin commands run in-process
// (`user add`) are recorded as admin:<os user>.
func TestAuditCommand(t *testing.T) {
	cfgPath := testConfig(t, "")
	if _, stderr, code := cli(t, "-c", cfgPath, "user", "add", "alice"); code != 0 {
		t.Fatalf("user add: exit %d: %s", code, stderr)
	}
	dir := filepath.Join(filepath.Dir(cfgPath), "data", "audit")
	l, err := audit.Open(audit.Options{Dir: dir, MaxFileBytes: 600, Log: zerolog.Nop()}) // a few entries a file
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2099, 3, 1, 10, 0, 0, 0, time.UTC)
	write := func(id, user, key, action, result string, at time.Time, req, res []string) {
		t.Helper()
		for _, e := range []audit.Entry{
			{Time: at, Phase: audit.PhaseRequest, RequestID: id, User: user, AccessKeyID: key, Source: "127.0.0.1:40000", Action: action, Resources: req},
			{Time: at, Phase: audit.PhaseResult, RequestID: id, User: user, AccessKeyID: key, Source: "127.0.0.1:40000", Action: action, Resources: res, Result: result},
		} {
			if err := l.Write(&e); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("r1", "alice", "AKIAALICE", "RunInstances", "Success", day, []string{"ami-1"}, []string{"i-1", "i-2"})
	write("r2", "bob", "AKIABOB", "RunInstances", "Success", day.Add(time.Hour), []string{"ami-1"}, []string{"i-3"})
	write("r3", "alice", "AKIAALICE", "TerminateInstances", "Success", day.Add(2*time.Hour), []string{"i-1"}, []string{"i-1"})
	write("r4", "alice", "AKIAALICE", "CreateVolume", "VolumeLimitExceeded", day.Add(24*time.Hour), nil, nil)
	l.Close()
	if rotated, _ := filepath.Glob(filepath.Join(dir, "audit-*.log")); len(rotated) == 0 {
		t.Fatal("no rotated file: the test would not cover reading them")
	}

	tests := []struct {
		name string
		args []string
		want []string // request ids, in order
	}{
		{"all", nil, []string{"admin", "r1", "r2", "r3", "r4"}},
		{"user", []string{"--user", "alice"}, []string{"r1", "r3", "r4"}},
		{"access key", []string{"--user", "AKIABOB"}, []string{"r2"}},
		{"resource from the response", []string{"--resource", "i-1"}, []string{"r1", "r3"}},
		{"action", []string{"--action", "runinstances"}, []string{"r1", "r2"}},
		{"since", []string{"--since", "2099-03-02"}, []string{"r4"}},
		{"admin", []string{"--action", "user.add", "--resource", "alice"}, []string{"admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := cli(t, append([]string{"-c", cfgPath, "audit", "--json"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got []string
			dec := json.NewDecoder(strings.NewReader(stdout))
			for dec.More() {
				var c audit.Change
				if err := dec.Decode(&c); err != nil {
					t.Fatal(err)
				}
				id := c.RequestID
				if strings.HasPrefix(id, "admin-") {
					if c.User != audit.AdminActor(audit.CurrentOSUser()) || c.Source != "cli" || c.Result != audit.Success {
						t.Errorf("user add: got %+v, want admin:<os user> from the cli, Success", c)
					}
					id = "admin"
				}
				got = append(got, id)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	stdout, _, code := cli(t, "-c", cfgPath, "audit", "--resource", "i-2")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME") ||
		!strings.Contains(lines[1], "RunInstances") || !strings.Contains(lines[1], "ami-1,i-1,i-2") || !strings.Contains(lines[1], "Success") {
		t.Errorf("table: got exit %d\n%s\nwant a header and r1's row", code, stdout)
	}
	if _, stderr, code := cli(t, "-c", cfgPath, "audit", "--since", "yesterday"); code == 0 || !strings.Contains(stderr, "invalid time") {
		t.Errorf("--since yesterday: got exit %d %q, want an error naming the formats", code, stderr)
	}
}
