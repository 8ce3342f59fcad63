package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/econetest"
)

// buildServerBinary builds the econe-server binary into the test's temp dir.
// Each top-level test builds once and shares it among its subtests.
func buildServerBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "econe-server")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/econe-server")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeLoopbackPort is a loopback port nobody listens on right now.
func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// serverProcess is one econe-server configuration in a temp dir, driven as a
// process; the test's cleanup stops whatever it started.
type serverProcess struct {
	bin, dir, config string
	port             int
}

func newServerProcess(t testing.TB, bin string, extraYAML string) *serverProcess {
	t.Helper()
	d := &serverProcess{bin: bin, dir: t.TempDir(), port: freeLoopbackPort(t)}
	d.config = filepath.Join(d.dir, "econe.yaml")
	yaml := fmt.Sprintf("port: %d\ndata_dir: %s\nbackend:\n  sim:\n    boot_delay: 0s\n%s", d.port, filepath.Join(d.dir, "data"), extraYAML)
	if err := os.WriteFile(d.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.run(t, "stop") })
	return d
}

func (d *serverProcess) url() string  { return "http://127.0.0.1:" + strconv.Itoa(d.port) }
func (d *serverProcess) addr() string { return "127.0.0.1:" + strconv.Itoa(d.port) }

// run runs `econe-server -c CONFIG ARGS...` in the daemon's dir.
func (d *serverProcess) run(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.bin, append([]string{"-c", d.config}, args...)...)
	cmd.Dir = d.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("econe-server %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// must runs a command that has to succeed and returns its stdout.
func (d *serverProcess) must(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, code := d.run(t, args...)
	if code != 0 {
		t.Fatalf("econe-server %v: exit %d, want 0\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

func (d *serverProcess) pidFile() string { return filepath.Join(d.dir, "data", "econe-server.pid") }

func TestServerLifecycle(t *testing.T) {
	bin := buildServerBinary(t)

	t.Run("start status stop round trip", func(t *testing.T) {
		d := newServerProcess(t, bin, "")
		out := d.must(t, "start")
		if !strings.Contains(out, "started") || !strings.Contains(out, d.url()) {
			t.Errorf("start said %q, want it to name %s", out, d.url())
		}
		pidRaw, err := os.ReadFile(d.pidFile())
		if err != nil {
			t.Fatalf("pid file after start: %v", err)
		}
		pid := strings.TrimSpace(string(pidRaw))
		status := d.must(t, "status")
		for _, want := range []string{"running", "pid:      " + pid, d.addr(), "version:  dev"} {
			if !strings.Contains(status, want) {
				t.Errorf("status = %q, want it to contain %q", status, want)
			}
		}
		if info, err := os.Stat(filepath.Join(d.dir, "data", "admin.sock")); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("admin socket: %v, mode %v; want mode 0600", err, info.Mode().Perm())
		}
		_, errOut, code := d.run(t, "start")
		if code == 0 || !strings.Contains(errOut, "already running, pid "+pid) {
			t.Errorf("second start: exit %d, stderr %q; want failure naming pid %s", code, errOut, pid)
		}
		if out := d.must(t, "stop"); !strings.Contains(out, "stopped (pid "+pid+")") {
			t.Errorf("stop said %q", out)
		}
		for _, leftover := range []string{d.pidFile(), filepath.Join(d.dir, "data", "admin.sock")} {
			if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after stop: %v, want it removed", leftover, err)
			}
		}
		out, _, code = d.run(t, "status")
		if code != 3 || !strings.Contains(out, "not running") {
			t.Errorf("status after stop: exit %d, %q; want exit 3, not running", code, out)
		}
		out, _, code = d.run(t, "stop")
		if code != 0 || !strings.Contains(out, "not running") {
			t.Errorf("stop when stopped: exit %d, %q; want exit 0, not running", code, out)
		}
		log, _ := os.ReadFile(filepath.Join(d.dir, "data", "econe-server.log"))
		if !strings.Contains(string(log), "econe-server stopped") {
			t.Errorf("log lacks the clean shutdown line:\n%s", log)
		}
	})

	t.Run("stale pid file is cleaned up", func(t *testing.T) {
		d := newServerProcess(t, bin, "")
		if err := os.MkdirAll(filepath.Dir(d.pidFile()), 0o700); err != nil {
			t.Fatal(err)
		}
		// A pid that cannot be live: above the kernel's pid_max ceiling.
		if err := os.WriteFile(d.pidFile(), []byte("4194305\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _, code := d.run(t, "status")
		if code != 3 || !strings.Contains(out, "stale pid file") {
			t.Errorf("status with stale pid file: exit %d, %q; want 3 and a mention of the stale file", code, out)
		}
		_, errOut, code := d.run(t, "start")
		if code != 0 || !strings.Contains(errOut, "stale pid file") {
			t.Fatalf("start over stale pid file: exit %d, stderr %q; want success, saying it removed it", code, errOut)
		}
		if pid, _ := os.ReadFile(d.pidFile()); strings.TrimSpace(string(pid)) == "4194305" {
			t.Errorf("pid file still holds the stale pid")
		}
	})

	cases := []struct {
		name      string
		setup     func(t *testing.T, d *serverProcess) // may rewrite the config
		wantInErr []string
		// status afterwards: 3 (not running), or 1 when the config is unreadable
		wantStatus int
	}{
		{"port taken", func(t *testing.T, d *serverProcess) {
			ln, err := net.Listen("tcp", d.addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
		}, []string{"cannot listen on 127.0.0.1:", "address already in use"}, 3},
		{"bad config", func(t *testing.T, d *serverProcess) {
			appendServerConfig(t, d, "bogus_key: 1\nlog:\n  level: loud\n")
		}, []string{"bogus_key", "log.level", "econe.yaml:"}, 1},
		{"data dir unusable", func(t *testing.T, d *serverProcess) {
			blocker := filepath.Join(d.dir, "file")
			if err := os.WriteFile(blocker, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			appendServerConfig(t, d, "data_dir: "+filepath.Join(blocker, "data")+"\n")
		}, []string{"data_dir", "not a directory"}, 3},
	}
	for _, c := range cases {
		t.Run("start fails: "+c.name, func(t *testing.T) {
			d := newServerProcess(t, bin, "")
			c.setup(t, d)
			_, errOut, code := d.run(t, "start")
			if code == 0 {
				t.Fatalf("start: exit 0, want failure")
			}
			for _, want := range c.wantInErr {
				if !strings.Contains(errOut, want) {
					t.Errorf("start stderr = %q, want it to contain %q", errOut, want)
				}
			}
			if _, _, code := d.run(t, "status"); code != c.wantStatus {
				t.Errorf("status after failed start: exit %d, want %d", code, c.wantStatus)
			}
		})
	}

	t.Run("check-config names the bad key", func(t *testing.T) {
		d := newServerProcess(t, bin, "")
		if out := d.must(t, "check-config"); !strings.Contains(out, "configuration OK") {
			t.Errorf("check-config of a good file said %q", out)
		}
		appendServerConfig(t, d, "port_number: 80\n")
		_, errOut, code := d.run(t, "check-config")
		if code != 1 || !strings.Contains(errOut, `"port_number"`) {
			t.Errorf("check-config: exit %d, stderr %q; want 1 naming port_number", code, errOut)
		}
	})
}

// appendServerConfig adds lines to the daemon's config file; a repeated key is
// rewritten instead (YAML refuses duplicates).
func appendServerConfig(t *testing.T, d *serverProcess, lines string) {
	t.Helper()
	old, err := os.ReadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	text := string(old)
	for _, line := range strings.Split(strings.TrimSpace(lines), "\n") {
		if key, _, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
			text = regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(key)+`:.*\n`).ReplaceAllString(text, "")
		}
	}
	if err := os.WriteFile(d.config, []byte(text+lines), 0o600); err != nil {
		t.Fatal(err)
	}
}

type cliCreds struct {
	Name            string `json:"name"`
	Group           string `json:"group"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// cliAddUser runs `user add NAME --json` and checks it printed exactly one
// object with the four fields in AWS's key formats.
func cliAddUser(t *testing.T, d *serverProcess, name, group string) cliCreds {
	t.Helper()
	args := []string{"user", "add", name, "--json"}
	if group != "" {
		args = append(args, "--group", group)
	}
	return decodeCLICreds(t, d.must(t, args...))
}

var (
	cliKeyIDRE  = regexp.MustCompile(`^[A-Z0-9]{20}$`)
	cliSecretRE = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
)

func decodeCLICreds(t *testing.T, out string) cliCreds {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if dec.More() {
		t.Errorf("--json output %q holds more than one JSON value", out)
	}
	if len(fields) != 4 {
		t.Errorf("--json fields = %v, want exactly name, group, access_key_id, secret_access_key", fields)
	}
	var c cliCreds
	raw, _ := json.Marshal(fields)
	_ = json.Unmarshal(raw, &c)
	if !cliKeyIDRE.MatchString(c.AccessKeyID) || !cliSecretRE.MatchString(c.SecretAccessKey) {
		t.Errorf("keys %q / %q: want 20 upper-case alphanumerics and 40 characters", c.AccessKeyID, c.SecretAccessKey)
	}
	return c
}

// cliDescribeRegions runs the AWS CLI v2 with env added to a clean
// environment and returns its combined output and whether it succeeded.
func cliDescribeRegions(t *testing.T, d *serverProcess, env ...string) (string, bool) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(econetest.AWSCLI, "--endpoint-url", d.url(), "ec2", "describe-regions", "--output", "json")
	cmd.Env = append([]string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
	}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func cliKeyEnv(c cliCreds) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey}
}

// TestUserAdmin administers users with the server stopped (store opened
// directly), then running (through the admin socket), and checks each
// change with the AWS CLI v2 against the running server.
func TestUserAdmin(t *testing.T) {
	econetest.Require(t, econetest.AWSCLI, "apt-get install -y awscli")
	bin := buildServerBinary(t)
	d := newServerProcess(t, bin, "")

	eve := cliAddUser(t, d, "eve", "")
	roster := filepath.Join(d.dir, "roster.csv")
	if err := os.WriteFile(roster, []byte("name,group\nfrank,cs101\neve\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	importedStopped := d.must(t, "user", "import", roster)
	d.must(t, "start")
	importedRunning := d.must(t, "user", "import", roster)
	for _, c := range []struct {
		name, csv, frankStatus string
	}{{"stopped", importedStopped, "created"}, {"running", importedRunning, "exists"}} {
		if !strings.Contains(c.csv, "\neve,,"+eve.AccessKeyID+",,exists\n") {
			t.Errorf("import while %s:\n%s\nwant eve reported as existing with her key", c.name, c.csv)
		}
		if !regexp.MustCompile(`(?m)^frank,cs101,AKIA[A-Z0-9]{16},[^,]*,` + c.frankStatus + `$`).MatchString(c.csv) {
			t.Errorf("import while %s:\n%s\nwant frank %s", c.name, c.csv, c.frankStatus)
		}
	}

	alice := cliAddUser(t, d, "alice", "cs101")
	if alice.Name != "alice" || alice.Group != "cs101" {
		t.Errorf("added %+v, want alice in cs101", alice)
	}
	carolOld := cliAddUser(t, d, "carol", "")
	carolNew := decodeCLICreds(t, d.must(t, "user", "rotate-key", "carol", "--json"))
	dave := cliAddUser(t, d, "dave", "")
	d.must(t, "user", "disable", "dave")
	bob := cliAddUser(t, d, "bob", "")
	d.must(t, "user", "disable", "bob")
	d.must(t, "user", "enable", "bob")

	profileDir := filepath.Join(t.TempDir(), "aws")
	credOut := d.must(t, "user", "credentials", "alice", "--dir", profileDir)
	if !strings.Contains(credOut, "aws --profile econe --endpoint-url "+d.url()+" ec2 describe-regions") {
		t.Errorf("credentials hint = %q, want the aws --profile econe --endpoint-url command", credOut)
	}
	for _, f := range []string{"credentials", "config"} {
		if info, err := os.Stat(filepath.Join(profileDir, f)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", f, err)
		}
	}

	checks := []struct {
		name   string
		env    []string
		wantOK bool
	}{
		{"key made while stopped works", cliKeyEnv(eve), true},
		{"new user's key works at once", cliKeyEnv(alice), true},
		{"rotated-away key is refused", cliKeyEnv(carolOld), false},
		{"rotated key works", cliKeyEnv(carolNew), true},
		{"disabled user is refused", cliKeyEnv(dave), false},
		{"re-enabled user works", cliKeyEnv(bob), true},
		{"written profile works", []string{
			"AWS_CONFIG_FILE=" + filepath.Join(profileDir, "config"),
			"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(profileDir, "credentials"),
			"AWS_PROFILE=econe",
		}, true},
	}
	for _, c := range checks {
		out, ok := cliDescribeRegions(t, d, c.env...)
		switch {
		case ok != c.wantOK:
			t.Errorf("%s: aws succeeded = %v, want %v\n%s", c.name, ok, c.wantOK, out)
		case ok && !strings.Contains(out, `"RegionName": "us-east-1"`):
			t.Errorf("%s: output %q lacks us-east-1", c.name, out)
		case !ok && !strings.Contains(out, "AuthFailure"):
			t.Errorf("%s: error %q, want AuthFailure", c.name, out)
		}
	}

	_, errOut, code := d.run(t, "user", "add", "alice")
	if code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("duplicate add: exit %d, %q; want failure saying it exists", code, errOut)
	}
	d.must(t, "user", "delete", "dave")
	if _, errOut, code := d.run(t, "user", "show", "dave"); code == 0 || !strings.Contains(errOut, "no such user") {
		t.Errorf("show after delete: exit %d, %q; want no such user", code, errOut)
	}

	log, err := os.ReadFile(filepath.Join(d.dir, "data", "econe-server.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{alice.SecretAccessKey, carolNew.SecretAccessKey, bob.SecretAccessKey} {
		if strings.Contains(string(log), secret) {
			t.Errorf("the server log holds a secret access key")
		}
	}
	if !strings.Contains(string(log), `"op":"POST /users"`) {
		t.Errorf("the log has no admin line for user add (did add bypass the socket?)")
	}
}
