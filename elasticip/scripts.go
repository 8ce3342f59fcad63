package elasticip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Scripts runs the admin's associate and disassociate scripts, as econe
// did: `SCRIPT ELASTIC_IP PRIVATE_IP BASE64_CONTEXT`, with the arguments
// passed untouched (no shell parses them), the same values in ECONE_*
// environment variables, in a process group of its own that is killed
// whole after Timeout. An empty path means that step has no script and
// only succeeds. Output goes to the log only, never to the student.
//
// A script must not outlive the server and then undo start-up's clean-up:
// the kernel kills it when the server dies (Linux), and its process group
// is reported to Started before it runs, for the intent to record.
type Scripts struct {
	AssociatePath    string
	DisassociatePath string
	Timeout          time.Duration
	Log              zerolog.Logger
	// Observe, when set, is told of each script run: the op (associate |
	// disassociate), its outcome (ScriptOutcome) and how long it took.
	Observe func(op, outcome string, took time.Duration)
}

// gate is the script's first moments: /bin/sh waits on fd 3 until the
// server has recorded the process, then becomes the script ($0) with its
// arguments ("$@", never re-parsed). If the server dies or refuses first,
// fd 3 closes unwritten and the script never runs.
const gate = `read -r go <&3 || exit 125; exec 3<&-; exec "$0" "$@"`

// maxScriptOutput bounds what is kept of a script's stdout and stderr each.
const maxScriptOutput = 16 << 10

// killGrace is how long a killed script's leftover children may keep its
// output pipes open before Run stops waiting for them.
const killGrace = 2 * time.Second

func (s *Scripts) Associate(ctx context.Context, a Association, started Started) error {
	return s.run(ctx, "associate", s.AssociatePath, a, started)
}

func (s *Scripts) Disassociate(ctx context.Context, a Association, started Started) error {
	return s.run(ctx, "disassociate", s.DisassociatePath, a, started)
}

// ScriptError is a script that failed or timed out. Its text names the
// script and the outcome; the output is in the log.
type ScriptError struct {
	Op       string // associate | disassociate
	Path     string
	ExitCode int // -1 when killed or not started
	TimedOut bool
	Err      error
}

func (e *ScriptError) Error() string {
	switch {
	case e.TimedOut:
		return fmt.Sprintf("%s script %s timed out", e.Op, e.Path)
	case e.ExitCode >= 0:
		return fmt.Sprintf("%s script %s exited with status %d", e.Op, e.Path, e.ExitCode)
	}
	return fmt.Sprintf("%s script %s: %v", e.Op, e.Path, e.Err)
}

func (e *ScriptError) Unwrap() error { return e.Err }

// ScriptOutcome names how a run ended, for metrics: success, failed (a
// non-zero exit), timeout, or error (it could not be started or recorded).
func ScriptOutcome(err error) string {
	var se *ScriptError
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &se) && se.TimedOut:
		return "timeout"
	case errors.As(err, &se) && se.ExitCode >= 0:
		return "failed"
	}
	return "error"
}

func (s *Scripts) run(ctx context.Context, op, path string, a Association, started Started) (err error) {
	if path == "" {
		return nil
	}
	if s.Observe != nil {
		defer func(start time.Time) { s.Observe(op, ScriptOutcome(err), time.Since(start)) }(time.Now())
	}
	exe, err := exec.LookPath(path)
	if err != nil {
		return &ScriptError{Op: op, Path: path, ExitCode: -1, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", gate, exe, a.PublicIP, a.PrivateIP, a.Context())
	cmd.Env = scriptEnv(a)
	cmd.Dir = "/"
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so a timeout kills what the script started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tieToServer(cmd.SysProcAttr)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = killGrace

	// Linux sends the parent-death signal when the thread that started the
	// child ends, and a thread ends when a goroutine that locked it exits
	// still locked: held by this goroutine until the script is reaped, the
	// starting thread outlives the script.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	proc, err := s.start(cmd, started)
	if err == nil {
		err = cmd.Wait()
	}
	ev := s.Log.Debug()
	if err != nil {
		ev = s.Log.Error()
	}
	ev.Str("script", path).Str("op", op).Str("elastic_ip", a.PublicIP).Str("instance_id", a.InstanceID).
		Str("user", a.Owner).Int("pgid", proc.PGID).Dur("took", time.Since(start)).Int("exit_code", cmd.ProcessState.ExitCode()).
		Str("stdout", stdout.String()).Str("stderr", stderr.String()).Err(err).Msg("elastic IP script")
	if err == nil {
		return nil
	}
	serr := &ScriptError{Op: op, Path: path, ExitCode: -1, Err: err}
	var exit *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		serr.TimedOut = true
	case errors.As(err, &exit):
		serr.ExitCode = exit.ExitCode()
	}
	return serr
}

// start starts cmd held at the gate, tells started, then opens the gate.
// When started fails, the gate closes unopened and the script is reaped
// without having run.
func (s *Scripts) start(cmd *exec.Cmd, started Started) (Process, error) {
	held, open, err := os.Pipe()
	if err != nil {
		return Process{}, err
	}
	defer open.Close()
	cmd.ExtraFiles = []*os.File{held}
	err = cmd.Start()
	held.Close() // the child has its own copy
	if err != nil {
		return Process{}, err
	}
	proc := Process{PGID: cmd.Process.Pid}
	if st, err := readStat(proc.PGID); err == nil {
		proc.StartTime = st.start
	}
	if started != nil {
		if err := started(proc); err != nil {
			open.Close()
			cmd.Wait()
			return Process{}, fmt.Errorf("recording the script's process: %w", err)
		}
	}
	if _, err := open.Write([]byte("\n")); err != nil {
		cmd.Wait()
		return Process{}, fmt.Errorf("starting the script: %w", err)
	}
	return proc, nil
}

// scriptEnv is a clean environment: PATH and the association, nothing of the
// server's own (which may hold cloud credentials).
func scriptEnv(a Association) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return []string{
		"PATH=" + path,
		"LC_ALL=C",
		"ECONE_ELASTIC_IP=" + a.PublicIP,
		"ECONE_PRIVATE_IP=" + a.PrivateIP,
		"ECONE_INSTANCE_ID=" + a.InstanceID,
		"ECONE_USER=" + a.Owner,
	}
}

// limitedBuffer keeps the first maxScriptOutput bytes written to it and
// discards the rest, so a chatty script cannot fill the server's memory.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxScriptOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
