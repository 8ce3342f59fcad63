package scriptrun

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeScript writes an executable shell script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunPassesArgumentsUntouched(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
	dir := t.TempDir()
	path := writeScript(t, dir, "record.sh", `for a in "$@"; do printf '%s\0' "$a"; done; echo "--env--"; env`)
	args := []string{"plain", "two words", `$(touch pwned) "quoted" 'single' ; | &`, "line\nbreak", ""}
	res, err := Run(context.Background(), Command{Path: path, Args: args, Env: []string{"ECONE_KIND=warning"}, Timeout: 10 * time.Second})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("got %v, exit %d, stderr %q, want success", err, res.ExitCode, res.Stderr)
	}
	gotArgs, env, _ := strings.Cut(res.Stdout, "--env--\n")
	if got := strings.Split(strings.TrimSuffix(gotArgs, "\x00"), "\x00"); strings.Join(got, "|") != strings.Join(args, "|") {
		t.Errorf("got arguments %q, want %q exactly", got, args)
	}
	if _, err := os.Stat("/pwned"); err == nil {
		t.Errorf("got /pwned created, want no argument ever run by a shell")
	}
	for _, want := range []string{"ECONE_KIND=warning\n", "LC_ALL=C\n", "PATH="} {
		if !strings.Contains(env, want) {
			t.Errorf("got environment %q, want it to contain %q", env, want)
		}
	}
	if strings.Contains(env, "server-secret") {
		t.Errorf("got the server's AWS_SECRET_ACCESS_KEY in the script's environment, want a clean environment")
	}
}

// testDeadline is a context whose deadline passes when the test says so
// (pass): its Err is then context.DeadlineExceeded, as a timer's would
// be. A run's timeout comes after the script has done what the test
// waits for, however slow the machine (a 300 ms timeout could end the
// script before it had started its child).
type testDeadline struct {
	done chan struct{}
	once sync.Once
}

func newTestDeadline(t *testing.T) *testDeadline {
	d := &testDeadline{done: make(chan struct{})}
	t.Cleanup(d.pass)
	return d
}

func (d *testDeadline) pass()                       { d.once.Do(func() { close(d.done) }) }
func (d *testDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (d *testDeadline) Done() <-chan struct{}       { return d.done }
func (d *testDeadline) Value(any) any               { return nil }
func (d *testDeadline) Err() error {
	select {
	case <-d.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func TestRunTimeoutKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "child")
	path := writeScript(t, dir, "hang.sh", "sleep 600 &\necho $! > "+child+"\nwait\n")
	deadline := newTestDeadline(t)
	type result struct {
		res Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Run(deadline, Command{Path: path, Timeout: time.Hour})
		done <- result{res, err}
	}()
	pid := readPID(t, child)
	deadline.pass() // the script and its child run: now the timeout
	r := <-done
	res, err := r.res, r.err
	if err == nil || !res.TimedOut || res.ExitCode != -1 {
		t.Fatalf("got %v, timed out %v, exit %d, want a timeout with exit -1", err, res.TimedOut, res.ExitCode)
	}
	if runs(pid) {
		waitGone(t, pid) // SIGKILL to the group is asynchronous; it must land
	}
	if runs(res.Process.PGID) {
		t.Errorf("got the script %d still running, want it killed", res.Process.PGID)
	}
}

func TestRunMissingScript(t *testing.T) {
	res, err := Run(context.Background(), Command{Path: filepath.Join(t.TempDir(), "absent"), Timeout: time.Second})
	if err == nil || res.ExitCode != -1 || res.TimedOut {
		t.Errorf("got %v, exit %d, timed out %v, want an error with exit -1", err, res.ExitCode, res.TimedOut)
	}
}

func TestScriptOutputIsBounded(t *testing.T) {
	var b limitedBuffer
	chunk := bytes.Repeat([]byte("x"), 1000)
	for range 100 {
		if n, err := b.Write(chunk); n != len(chunk) || err != nil {
			t.Fatalf("got write %d, %v, want %d, nil", n, err, len(chunk))
		}
	}
	if b.Len() != MaxOutput {
		t.Errorf("got %d bytes kept, want %d", b.Len(), MaxOutput)
	}
}
