package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/econe/econe-server/conf"
)

// testConfig writes a config with a temp data dir and returns -c's value.
func testConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "econe.yaml")
	if err := os.WriteFile(path, []byte("port: 45999\ndata_dir: "+filepath.Join(dir, "data")+"\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cli runs the command line in-process (the server is not running, so user
// commands open the store directly).
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestCommands(t *testing.T) {
	cfg := testConfig(t, "")
	bad := testConfig(t, "colour: blue\n")
	cases := []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout or stderr
	}{
		{"version", []string{"version"}, 0, "econe-server dev (" + runtime.Version()},
		{"check-config ok", []string{"-c", cfg, "check-config"}, 0, "configuration OK"},
		{"check-config names the key and line", []string{"-c", bad, "check-config"}, 1, `econe.yaml:3: colour: unknown key "colour"`},
		{"missing config file", []string{"-c", cfg + ".nope", "check-config"}, 1, "no such file"},
		{"status when stopped", []string{"-c", cfg, "status"}, 3, "not running"},
		{"stop when stopped", []string{"-c", cfg, "stop"}, 0, "not running"},
		{"add", []string{"-c", cfg, "user", "add", "ann", "--group", "cs101"}, 0, "user ann created (group cs101)"},
		{"add twice", []string{"-c", cfg, "user", "add", "ann"}, 1, "user ann: user already exists"},
		{"bad user name", []string{"-c", cfg, "user", "add", "Ann"}, 1, `invalid user name "Ann"`},
		{"bad group name", []string{"-c", cfg, "user", "add", "ben", "--group", "CS 101"}, 1, `invalid group name "CS 101"`},
		{"show", []string{"-c", cfg, "user", "show", "ann"}, 0, "status:        enabled"},
		{"show unknown", []string{"-c", cfg, "user", "show", "zed"}, 1, "user zed: no such user"},
		{"disable", []string{"-c", cfg, "user", "disable", "ann"}, 0, "user ann disabled"},
		{"list shows disabled", []string{"-c", cfg, "user", "list"}, 0, "cs101"},
		{"enable", []string{"-c", cfg, "user", "enable", "ann"}, 0, "user ann enabled"},
		{"enable unknown", []string{"-c", cfg, "user", "enable", "zed"}, 1, "no such user"},
		{"credentials needs --dir", []string{"-c", cfg, "user", "credentials", "ann"}, 1, `"dir" not set`},
		{"delete", []string{"-c", cfg, "user", "delete", "ann"}, 0, "user ann deleted"},
		{"delete again", []string{"-c", cfg, "user", "delete", "ann"}, 1, "no such user"},
		{"list empty json", []string{"-c", cfg, "user", "list", "--json"}, 0, "[]"},
		{"help on a subcommand", []string{"user", "credentials", "--help"}, 0, "NOT rotated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := cli(t, c.args...)
			if code != c.wantCode || !strings.Contains(out+errOut, c.want) {
				t.Errorf("econe-server %v: got exit %d, stdout %q, stderr %q; want exit %d with %q", c.args, code, out, errOut, c.wantCode, c.want)
			}
		})
	}
}

func TestRotateKeyJSON(t *testing.T) {
	cfg := testConfig(t, "")
	var before, after map[string]string
	out, _, _ := cli(t, "-c", cfg, "user", "add", "cat", "--json")
	if err := json.Unmarshal([]byte(out), &before); err != nil {
		t.Fatalf("add --json %q: %v", out, err)
	}
	out, _, _ = cli(t, "-c", cfg, "user", "rotate-key", "cat", "--json")
	if err := json.Unmarshal([]byte(out), &after); err != nil {
		t.Fatalf("rotate-key --json %q: %v", out, err)
	}
	if after["access_key_id"] == before["access_key_id"] || after["secret_access_key"] == before["secret_access_key"] || after["name"] != "cat" {
		t.Errorf("rotate-key gave %v after %v: want a new key for cat", after, before)
	}
	var info map[string]any
	out, _, _ = cli(t, "-c", cfg, "user", "show", "cat", "--json")
	if err := json.Unmarshal([]byte(out), &info); err != nil || info["access_key_id"] != after["access_key_id"] {
		t.Errorf("show --json = %q (%v); want the rotated key id %s", out, err, after["access_key_id"])
	}
	if strings.Contains(out, after["secret_access_key"]) {
		t.Errorf("show prints the secret")
	}
}

func TestImport(t *testing.T) {
	cfg := testConfig(t, "")
	dir := filepath.Dir(cfg)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badRoster := write("bad.csv", "name,group\nok1\nBad Name,cs\nok2,x,y\nok1\n")
	_, errOut, code := cli(t, "-c", cfg, "user", "import", badRoster)
	for _, want := range []string{"nobody was created", "line 3", "line 4", "line 5: user ok1 is already listed on line 2"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("bad roster: exit %d, stderr %q; want exit 1 with %q", code, errOut, want)
		}
	}
	if out, _, _ := cli(t, "-c", cfg, "user", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("after a bad roster, users = %s; want none", out)
	}

	roster := write("class.csv", "\ufeffname,group\n# late joiners at the end\namy,cs101\nbo\n\n")
	first, _, code := cli(t, "-c", cfg, "user", "import", roster)
	if code != 0 || strings.Count(first, ",created\n") != 2 || !strings.HasPrefix(first, "name,group,access_key_id,secret_access_key,status\n") {
		t.Fatalf("first import: exit %d\n%s\nwant a header and two created rows", code, first)
	}
	second, errOut, code := cli(t, "-c", cfg, "user", "import", roster)
	if code != 0 || strings.Count(second, ",exists\n") != 2 || !strings.Contains(errOut, "0 created, 2 already existed") {
		t.Errorf("second import: exit %d\n%s%s\nwant both existing", code, second, errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(first), "\n")[1:] {
		f := strings.Split(line, ",")
		if want := strings.Join([]string{f[0], f[1], f[2], "", "exists"}, ","); !strings.Contains(second, want) {
			t.Errorf("second import\n%s\nlacks %q: same key, no secret", second, want)
		}
	}
}

func TestCredentialsFiles(t *testing.T) {
	cfg := testConfig(t, "region: eu-west-3\n")
	out, _, _ := cli(t, "-c", cfg, "user", "add", "dan", "--json")
	var c map[string]string
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	awsDir := filepath.Join(home, ".aws")
	if err := os.MkdirAll(awsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The student's own profile and an old econe one: the first stays, the
	// second is replaced.
	old := "[default]\naws_access_key_id = MINE\n\n[econe]\naws_access_key_id = OLD\n"
	if err := os.WriteFile(filepath.Join(awsDir, "credentials"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	const studentUID = 4242
	if os.Geteuid() == 0 {
		if err := os.Chown(awsDir, studentUID, studentUID); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := cli(t, "-c", cfg, "user", "credentials", "dan", "--dir", awsDir)
	if code != 0 {
		t.Fatalf("credentials: exit %d: %s", code, errOut)
	}
	if want := "try: aws --profile econe --endpoint-url http://127.0.0.1:45999 ec2 describe-regions"; !strings.Contains(out, want) {
		t.Errorf("credentials printed %q, want the hint %q", out, want)
	}
	wantFiles := map[string]string{
		"credentials": "[default]\naws_access_key_id = MINE\n\n[econe]\naws_access_key_id = " + c["access_key_id"] + "\naws_secret_access_key = " + c["secret_access_key"] + "\n",
		"config":      "[profile econe]\nregion = eu-west-3\nendpoint_url = http://127.0.0.1:45999\n",
	}
	for name, want := range wantFiles {
		path := filepath.Join(awsDir, name)
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode: %v (%v), want 0600", name, info.Mode().Perm(), err)
			continue
		}
		if uid := info.Sys().(*syscall.Stat_t).Uid; os.Geteuid() == 0 && uid != studentUID {
			t.Errorf("%s owner = %d, want the directory's owner %d", name, uid, studentUID)
		}
	}
	// Writing again keeps the key: the secret comes from the store, no rotation.
	cli(t, "-c", cfg, "user", "credentials", "dan", "--dir", awsDir)
	if got, _ := os.ReadFile(filepath.Join(awsDir, "credentials")); string(got) != wantFiles["credentials"] {
		t.Errorf("second write changed credentials to %q", got)
	}
}

func TestTuneRuntime(t *testing.T) {
	before := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(before); debug.SetMemoryLimit(limit) })
	noEnv := func(string) string { return "" }

	gc, mem := tuneRuntime(conf.GoRuntime{GCPercent: 250, MemoryLimitMiB: 64}, noEnv)
	if gc != 250 || mem != 64<<20 {
		t.Errorf("from the config: got gc_percent %d, limit %d; want 250, %d", gc, mem, 64<<20)
	}
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	fromEnv := func(name string) string { return map[string]string{"GOGC": "150", "GOMEMLIMIT": "1GiB"}[name] }
	gc, mem = tuneRuntime(conf.GoRuntime{GCPercent: 250, MemoryLimitMiB: 64}, fromEnv)
	if gc != 100 || mem != math.MaxInt64 {
		t.Errorf("with GOGC and GOMEMLIMIT set: got gc_percent %d, limit %d; want the runtime's own (100, none)", gc, mem)
	}
}

func TestWaitReadyReportsSteps(t *testing.T) {
	cfg := conf.Default()
	cfg.DataDir = t.TempDir() // no admin socket there: the child never answers
	cases := []struct {
		name    string
		written string // what the child writes to the ready pipe before closing it, or "" to stall
		stalls  bool
		want    []string // in the error
	}{
		{"stalls in a step", "step: recovering unfinished launches\n", true,
			[]string{"has not answered, nor reported progress, for 100ms", "it was recovering unfinished launches", "still running"}},
		{"fails after a step", "step: opening the data directory d\ncannot open the data directory d:\n  locked\n", false,
			[]string{"the server could not start: cannot open the data directory d:\n  locked"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			child := &started{pid: os.Getpid(), exited: make(chan error, 1), steps: make(chan string), report: make(chan string, 1)}
			go readReport(r, child.steps, child.report)
			w.WriteString(c.written)
			if !c.stalls {
				w.Close()
			} else {
				defer w.Close()
			}
			var out bytes.Buffer
			err = waitReady(cfg, child, 100*time.Millisecond, &out, "LOG", 0)
			for _, want := range c.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got error %v, want it to contain %q", err, want)
				}
			}
			step, _, _ := strings.Cut(strings.TrimPrefix(c.written, stepPrefix), "\n")
			if want := "econe-server: " + step + "\n"; out.String() != want {
				t.Errorf("got %q shown, want %q", out.String(), want)
			}
		})
	}
}
