package elasticip

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/rs/zerolog"
)

var testAssociation = Association{
	PublicIP: "203.0.113.10", PrivateIP: "10.77.0.5", InstanceID: "i-0123456789abcdef0", Owner: "alice",
	AllocationID: "eipalloc-0123456789abcdef0", AssociationID: "eipassoc-0123456789abcdef0", Network: "10.77.0.0/16",
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

// recordingScript records one argument per line, then the environment.
const recordingScript = `out="$(dirname "$0")/record"
for a in "$@"; do printf '%s\n' "$a"; done > "$out"
echo "--env--" >> "$out"
env >> "$out"
`

func TestScriptGetsExactArgumentsAndEnvironment(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
	dir := t.TempDir()
	for _, op := range []string{"associate", "disassociate"} {
		t.Run(op, func(t *testing.T) {
			path := writeScript(t, dir, op+".sh", recordingScript)
			var observed string
			s := &Scripts{Timeout: 10 * time.Second, Log: zerolog.Nop(),
				Observe: func(op, outcome string, _ time.Duration) { observed = op + " " + outcome }}
			call := s.Associate
			if op == "associate" {
				s.AssociatePath = path
			} else {
				s.DisassociatePath = path
				call = s.Disassociate
			}
			if err := call(context.Background(), testAssociation, nil); err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if want := op + " success"; observed != want {
				t.Errorf("got observed run %q, want %q", observed, want)
			}
			raw, err := os.ReadFile(filepath.Join(dir, "record"))
			if err != nil {
				t.Fatal(err)
			}
			args, env, _ := strings.Cut(string(raw), "--env--\n")
			gotArgs := strings.Split(strings.TrimSuffix(args, "\n"), "\n")
			if len(gotArgs) != 3 || gotArgs[0] != "203.0.113.10" || gotArgs[1] != "10.77.0.5" {
				t.Fatalf("got args %q, want ELASTIC_IP PRIVATE_IP BASE64_CONTEXT", gotArgs)
			}
			decoded, err := base64.StdEncoding.DecodeString(gotArgs[2])
			if err != nil {
				t.Fatalf("got context %q, want standard base64: %v", gotArgs[2], err)
			}
			var ctx map[string]any
			if err := json.Unmarshal(decoded, &ctx); err != nil {
				t.Fatalf("got context %s, want JSON: %v", decoded, err)
			}
			wantCtx := map[string]any{
				"elastic_ip": "203.0.113.10", "private_ip": "10.77.0.5", "instance_id": "i-0123456789abcdef0",
				"user": "alice", "allocation_id": "eipalloc-0123456789abcdef0",
				"association_id": "eipassoc-0123456789abcdef0", "network": "10.77.0.0/16", "launch": false,
			}
			if !reflect.DeepEqual(ctx, wantCtx) {
				t.Errorf("got context %v, want %v", ctx, wantCtx)
			}
			for _, want := range []string{"ECONE_ELASTIC_IP=203.0.113.10\n", "ECONE_PRIVATE_IP=10.77.0.5\n", "ECONE_INSTANCE_ID=i-0123456789abcdef0\n", "ECONE_USER=alice\n", "PATH="} {
				if !strings.Contains(env, want) {
					t.Errorf("got environment %q, want it to contain %q", env, want)
				}
			}
			if strings.Contains(env, "server-secret") {
				t.Errorf("got the server's AWS_SECRET_ACCESS_KEY in the script's environment, want a clean environment")
			}
		})
	}
}

func TestScriptFailures(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name         string
		body         string // "" = the script does not exist
		wantExit     int
		wantTimedOut bool
		wantOutcome  string // what Observe is told
	}{
		{"non-zero exit", "echo 'iptables: no chain' >&2\nexit 3\n", 3, false, "failed"},
		{"hangs", "sleep 60\n", -1, true, "timeout"},
		// A child that keeps the pipes open must not keep the call waiting.
		{"hangs in a child", "sleep 60 &\nwait\n", -1, true, "timeout"},
		{"missing script", "", -1, false, "error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "absent.sh")
			if c.body != "" {
				path = writeScript(t, dir, strings.ReplaceAll(c.name, " ", "-")+".sh", c.body)
			}
			var logs bytes.Buffer
			var observed []string
			// A short timeout only for the scripts that hang: one that ends
			// by itself must not race it on a slow machine.
			timeout := time.Minute
			if c.wantTimedOut {
				timeout = 300 * time.Millisecond
			}
			s := &Scripts{AssociatePath: path, Timeout: timeout, Log: zerolog.New(&logs),
				Observe: func(op, outcome string, _ time.Duration) { observed = append(observed, op+" "+outcome) }}
			start := time.Now()
			err := s.Associate(context.Background(), testAssociation, nil)
			if got, want := strings.Join(observed, ","), "associate "+c.wantOutcome; got != want {
				t.Errorf("got observed runs %q, want %q", got, want)
			}
			var serr *ScriptError
			if !errors.As(err, &serr) {
				t.Fatalf("got %v, want a *ScriptError", err)
			}
			if serr.ExitCode != c.wantExit || serr.TimedOut != c.wantTimedOut {
				t.Errorf("got exit %d timed out %v, want exit %d timed out %v", serr.ExitCode, serr.TimedOut, c.wantExit, c.wantTimedOut)
			}
			if took := time.Since(start); took > 1500*time.Millisecond {
				t.Errorf("got the call returning after %s, want it bounded by the timeout (the whole process group killed)", took)
			}
			if c.wantExit == 3 {
				if strings.Contains(err.Error(), "no chain") {
					t.Errorf("got stderr in the error text %q, want it in the log only", err)
				}
				if !strings.Contains(logs.String(), "iptables: no chain") {
					t.Errorf("got log %q, want the script's stderr in it", logs.String())
				}
			}
		})
	}
}

func TestMissingScriptStepOnlySucceeds(t *testing.T) {
	s := &Scripts{Timeout: time.Second, Log: zerolog.Nop()}
	if err := s.Disassociate(context.Background(), testAssociation, nil); err != nil {
		t.Errorf("got %v, want success when no disassociate script is configured", err)
	}
}

func TestNewPicksProvider(t *testing.T) {
	cases := []struct {
		name        string
		cfg         conf.ElasticIPs
		wantScripts bool
	}{
		{"no scripts", conf.ElasticIPs{ScriptTimeout: conf.Duration(time.Second)}, false},
		{"associate only", conf.ElasticIPs{AssociateScript: "/bin/true", ScriptTimeout: conf.Duration(time.Second)}, true},
		{"both", conf.ElasticIPs{AssociateScript: "/bin/true", DisassociateScript: "/bin/true", ScriptTimeout: conf.Duration(time.Second)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got := New(c.cfg, zerolog.Nop()).(*Scripts)
			if got != c.wantScripts {
				t.Errorf("got Scripts provider %v, want %v", got, c.wantScripts)
			}
		})
	}
}
