package elasticip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Scripts runs the admin's associate and disassociate scripts, as econe
// did: `SCRIPT ELASTIC_IP PRIVATE_IP BASE64_CONTEXT`, executed directly (no
// shell, so no argument can be reinterpreted), with the same values in
// ECONE_* environment variables, killed with its whole process group after
// Timeout. An empty path means that step has no script and only succeeds.
// Output goes to the log only, never to the student.
type Scripts struct {
	AssociatePath    string
	DisassociatePath string
	Timeout          time.Duration
	Log              zerolog.Logger
}

// maxScriptOutput bounds what is kept of a script's stdout and stderr each.
const maxScriptOutput = 16 << 10

// killGrace is how long a killed script's leftover children may keep its
// output pipes open before Run stops waiting for them.
const killGrace = 2 * time.Second

func (s *Scripts) Associate(ctx context.Context, a Association) error {
	return s.run(ctx, "associate", s.AssociatePath, a)
}

func (s *Scripts) Disassociate(ctx context.Context, a Association) error {
	return s.run(ctx, "disassociate", s.DisassociatePath, a)
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

func (s *Scripts) run(ctx context.Context, op, path string, a Association) error {
	if path == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, a.PublicIP, a.PrivateIP, a.Context())
	cmd.Env = scriptEnv(a)
	cmd.Dir = "/"
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so a timeout kills what the script started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = killGrace

	start := time.Now()
	err := cmd.Run()
	ev := s.Log.Debug()
	if err != nil {
		ev = s.Log.Error()
	}
	ev.Str("script", path).Str("op", op).Str("elastic_ip", a.PublicIP).Str("instance_id", a.InstanceID).
		Str("user", a.Owner).Dur("took", time.Since(start)).Int("exit_code", cmd.ProcessState.ExitCode()).
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
