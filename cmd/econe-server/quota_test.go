package main

import (
	"context"
	"strings"
	"testing"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/quota"
	"github.com/rs/zerolog"
)

// quotaCases run in order against one data directory.
func quotaCases(cfg string) []struct {
	name     string
	args     []string
	wantCode int
	want     string
} {
	return []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"show defaults", []string{"-c", cfg, "quota", "show", "ann"}, 0, "max_instances           4          group config"},
		{"set group", []string{"-c", cfg, "quota", "set", "--group", "cs101", "--max-instances", "6", "--budget", "12.5"}, 0, "group cs101 overrides: max_instances=6 budget=12.50"},
		{"set user", []string{"-c", cfg, "quota", "set", "ann", "--max-vcpus", "2", "--instance-types", "t3.micro,m1.small"}, 0, "user ann overrides: max_vcpus=2 instance_types=t3.micro,m1.small"},
		{"show sources", []string{"-c", cfg, "quota", "show", "ann"}, 0, "max_instances           6                  group override"},
		{"show user source", []string{"-c", cfg, "quota", "show", "ann"}, 0, "instance_types          t3.micro,m1.small  user override"},
		{"show json", []string{"-c", cfg, "quota", "show", "ann", "--json"}, 0, `"budget": "12.50"`},
		{"unset one", []string{"-c", cfg, "quota", "unset", "ann", "--max-vcpus"}, 0, "user ann overrides: instance_types=t3.micro,m1.small"},
		{"unset all", []string{"-c", cfg, "quota", "unset", "--group", "cs101", "--all"}, 0, "group cs101 has no quota override"},
		{"back to config", []string{"-c", cfg, "quota", "show", "ann"}, 0, "max_instances           4"},
		{"unknown user", []string{"-c", cfg, "quota", "set", "zed", "--max-instances", "1"}, 1, "quota of user zed: no such user"},
		{"show unknown user", []string{"-c", cfg, "quota", "show", "zed"}, 1, "quota of user zed: no such user"},
		{"bad number", []string{"-c", cfg, "quota", "set", "ann", "--max-instances", "many"}, 1, `--max-instances: "many" is not a whole number`},
		{"negative", []string{"-c", cfg, "quota", "set", "ann", "--max-volume-gib", "-1"}, 1, "--max-volume-gib: must be >= 0, got -1"},
		{"bad budget", []string{"-c", cfg, "quota", "set", "ann", "--budget", "$5"}, 1, `--budget: invalid amount "$5"`},
		{"hours", []string{"-c", cfg, "quota", "set", "ann", "--max-running-hours", "0"}, 1, "--max-running-hours: must be at least 1"},
		{"nothing to set", []string{"-c", cfg, "quota", "set", "ann"}, 1, "nothing to set"},
		{"user and group", []string{"-c", cfg, "quota", "set", "ann", "--group", "cs101", "--max-instances", "1"}, 1, "name one user NAME or one --group GROUP"},
		{"unset needs keys or all", []string{"-c", cfg, "quota", "unset", "ann"}, 1, "or --all"},
	}
}

const quotaTestConfig = "groups:\n  cs101:\n    max_instances: 4\n"

func TestQuotaCommands(t *testing.T) {
	cfg := testConfig(t, quotaTestConfig)
	if _, errOut, code := cli(t, "-c", cfg, "user", "add", "ann", "--group", "cs101"); code != 0 {
		t.Fatal(errOut)
	}
	for _, c := range quotaCases(cfg) {
		out, errOut, code := cli(t, c.args...)
		if code != c.wantCode || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%s: econe-server %v: got exit %d, stdout %q, stderr %q; want exit %d with %q", c.name, c.args, code, out, errOut, c.wantCode, c.want)
		}
	}
}

// While a server runs, the same commands go through its admin socket (the
// server holds the database; the CLI cannot open it).
func TestQuotaCommandsThroughSocket(t *testing.T) {
	path := testConfig(t, quotaTestConfig)
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := cli(t, "-c", path, "user", "add", "ann", "--group", "cs101"); code != 0 {
		t.Fatal(errOut)
	}
	st, keys, err := app.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	served := 0
	users := &admin.Users{Store: st, Keys: keys, Config: cfg}
	auditLog, err := app.OpenAudit(cfg, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer auditLog.Close()
	sock, err := admin.ServeSocket(cfg.AdminSocketPath(), users, auditLog, func() admin.Status { served++; return admin.Status{PID: 1} }, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Shutdown(context.Background())
	for _, c := range quotaCases(path) {
		out, errOut, code := cli(t, c.args...)
		if code != c.wantCode || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%s: econe-server %v: got exit %d, stdout %q, stderr %q; want exit %d with %q", c.name, c.args, code, out, errOut, c.wantCode, c.want)
		}
	}
	if served == 0 {
		t.Error("the CLI never asked the socket; want every command through it")
	}
	// Each change of a limit is in the audit log, with the admin who made it.
	out, errOut, code := cli(t, "-c", path, "audit", "--action", "quota.set")
	if code != 0 || !strings.Contains(out, "quota.set") || !strings.Contains(out, "admin:") {
		t.Errorf("econe-server audit --action quota.set: got exit %d, %q %q; want the quota changes by admin:<user>", code, out, errOut)
	}
}

func TestQuotaHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"quota", "--help"}, "highest first"},
		{[]string{"quota", "set", "--help"}, "--max-running-hours H"},
		{[]string{"quota", "show", "--help"}, `"group override"`},
		{[]string{"quota", "unset", "--help"}, "remove every override"},
	} {
		if out, _, code := cli(t, c.args...); code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("econe-server %v: got exit %d, %q; want %q", c.args, code, out, c.want)
		}
	}
}

// Every limit's flag of quota set says what it limits.
func TestQuotaFlagsDocumented(t *testing.T) {
	for _, key := range quota.Keys() {
		if quotaFlagUsage[key] == "" {
			t.Errorf("quota set --%s has no help text (quotaFlagUsage)", quota.Flag(key))
		}
	}
}
