package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/econe/econe-server/econetest"
)

// ansibleToolchain is the Ansible a playbook runs with: Debian's (ansible
// 7.7, ansible-core 2.14, the amazon.aws collection 5.5.1, Debian's python3
// with python3-boto3) unless ECONE_TEST_ANSIBLE_PLAYBOOK,
// ECONE_TEST_ANSIBLE_PYTHON and ECONE_TEST_ANSIBLE_COLLECTIONS name another,
// such as ansible-core and a newer amazon.aws from their sources (README).
type ansibleToolchain struct {
	playbook    string // ansible-playbook
	python      string // the modules' interpreter
	collections string // ANSIBLE_COLLECTIONS_PATH: holds ansible_collections/amazon/aws
	// own is the caller's toolchain: its python runs ansible-playbook (a
	// source checkout's script names a python on PATH) with the caller's
	// PYTHONPATH (its lib).
	own bool
}

const (
	debianBoto3    = "/usr/lib/python3/dist-packages/boto3/__init__.py"
	ansibleInstall = "apt-get install -y ansible python3-boto3"
)

// ansibleFromEnv is the toolchain the environment names, or Debian's; the
// test is skipped (outside CI) when a part of it is missing.
func ansibleFromEnv(t *testing.T) ansibleToolchain {
	tc := ansibleToolchain{
		playbook:    os.Getenv("ECONE_TEST_ANSIBLE_PLAYBOOK"),
		python:      os.Getenv("ECONE_TEST_ANSIBLE_PYTHON"),
		collections: os.Getenv("ECONE_TEST_ANSIBLE_COLLECTIONS"),
		own:         true,
	}
	install := "ansible-core and amazon.aws from their sources, README § Tests"
	switch {
	case tc.playbook == "" && tc.python == "" && tc.collections == "":
		tc = ansibleToolchain{"/usr/bin/ansible-playbook", econetest.SysPython, "/usr/lib/python3/dist-packages", false}
		install = ansibleInstall
		econetest.Require(t, debianBoto3, install)
	case tc.playbook == "" || tc.python == "" || tc.collections == "":
		t.Fatal("set all of ECONE_TEST_ANSIBLE_PLAYBOOK, ECONE_TEST_ANSIBLE_PYTHON and ECONE_TEST_ANSIBLE_COLLECTIONS, or none")
	}
	for _, p := range []string{tc.playbook, tc.python, filepath.Join(tc.collections, "ansible_collections/amazon/aws/plugins/modules/ec2_instance.py")} {
		econetest.Require(t, p, install)
	}
	return tc
}

// command runs ansible-playbook with args.
func (tc ansibleToolchain) command(ctx context.Context, args ...string) *exec.Cmd {
	if !tc.own {
		return exec.CommandContext(ctx, tc.playbook, args...)
	}
	return exec.CommandContext(ctx, tc.python, append([]string{tc.playbook}, args...)...)
}

// TestAnsiblePlaybook runs a course's EC2 lab as a teacher writes it for
// AWS (testdata/ansible/lab.yml): the default VPC and subnets, a security
// group, instances in the default-VPC and the subnet form, a volume deleted
// with its instance, a snapshot, an elastic IP, a classmate who sees none
// of it, and the teardown. Every task asserts what it got; the run must end
// with failed=0. A failure shows the playbook's output and every request
// econe-server refused, with its parameters.
func TestAnsiblePlaybook(t *testing.T) {
	tc := ansibleFromEnv(t)
	e := econetest.Start(t)
	student, classmate := e.User(t, "alice"), e.User(t, "bob")
	proxy := econetest.NewProxy(t, e.URL)
	out, run, err := runPlaybook(t, tc, filepath.Join("testdata", "ansible", "lab.yml"), map[string]string{
		"econe_endpoint":       proxy.URL,
		"image_id":             "ami-0a1b2c3d4e5f60001",
		"student_access_key":   student.AccessKeyID,
		"student_secret_key":   student.SecretAccessKey,
		"classmate_access_key": classmate.AccessKeyID,
		"classmate_secret_key": classmate.SecretAccessKey,
	})
	t.Logf("%s took %s (CPU %s): %s", tc.playbook, run.wall.Round(time.Millisecond), run.cpu.Round(time.Millisecond), strings.Join(strings.Fields(playRecapRE.FindString(out)), " "))
	if err != nil {
		t.Fatalf("%v\n%s\nrequests econe-server refused:\n%s", err, out, strings.Join(proxy.Refused(), "\n"))
	}
}

// playbookRun is how long a playbook ran: wall-clock time, and CPU time
// of ansible-playbook and every module it ran (on a loaded machine the
// wall-clock time is mostly waiting for a CPU).
type playbookRun struct{ wall, cpu time.Duration }

// runPlaybook runs ansible-playbook on localhost with vars (written to a
// file, so that no key is on a command line) in a clean environment. It
// returns the output, how long the run took, and an error unless the run
// succeeded and its recap counts no failed or unreachable task.
func runPlaybook(t *testing.T, tc ansibleToolchain, playbook string, vars map[string]string) (string, playbookRun, error) {
	t.Helper()
	dir := t.TempDir()
	abs, err := filepath.Abs(playbook)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(vars)
	if err != nil {
		t.Fatal(err)
	}
	varsFile := filepath.Join(dir, "vars.json")
	if err := os.WriteFile(varsFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := tc.command(ctx, "-i", "localhost,", "-e", "@"+varsFile, abs)
	cmd.Dir = dir // no ansible.cfg of the working directory
	cmd.Env = ansibleEnv(t, tc, dir)
	// A run past the timeout goes with the modules it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	took := playbookRun{wall: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		took.cpu = ps.UserTime() + ps.SystemTime()
	}
	recap := playRecapRE.FindStringSubmatch(out.String())
	switch {
	case err != nil:
		return out.String(), took, fmt.Errorf("ansible-playbook %s: %v", playbook, err)
	case recap == nil:
		return out.String(), took, fmt.Errorf("ansible-playbook %s: no play recap for localhost", playbook)
	case recap[1] != "0" || recap[2] != "0":
		return out.String(), took, fmt.Errorf("ansible-playbook %s: got unreachable=%s failed=%s, want 0 and 0", playbook, recap[1], recap[2])
	}
	return out.String(), took, nil
}

// playRecapRE finds localhost's line in the play recap, and its
// unreachable and failed counts.
var playRecapRE = regexp.MustCompile(`(?m)^localhost\s*:.*\bunreachable=(\d+)\s+failed=(\d+).*$`)

// ansibleEnv is a clean environment that keeps Ansible and boto3 to the
// test: HOME, the config, temporary files and the AWS shared files in dir,
// the local machine only, the toolchain's python and collections, no
// proxies, no instance metadata lookups, no retry files or cows.
func ansibleEnv(t *testing.T, tc ansibleToolchain, dir string) []string {
	cfg := filepath.Join(dir, "ansible.cfg")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=" + dir,
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C.UTF-8",
		"ANSIBLE_CONFIG=" + cfg,
		"ANSIBLE_TRANSPORT=local",
		"ANSIBLE_PYTHON_INTERPRETER=" + tc.python,
		"ANSIBLE_COLLECTIONS_PATH=" + tc.collections,
		"ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false",
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(dir, "tmp"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(dir, "tmp"),
		"ANSIBLE_NOCOWS=1",
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_LOCALHOST_WARNING=0",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
	}
	if p := os.Getenv("PYTHONPATH"); tc.own && p != "" {
		env = append(env, "PYTHONPATH="+p)
	}
	return env
}
