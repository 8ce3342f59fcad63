package elasticip

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/econe/econe-server/scriptrun"
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
	res, err := scriptrun.Run(ctx, scriptrun.Command{
		Path:    path,
		Args:    []string{a.PublicIP, a.PrivateIP, a.Context()},
		Env:     scriptEnv(a),
		Timeout: s.Timeout,
		Started: scriptrun.Started(started),
	})
	ev := s.Log.Debug()
	if err != nil {
		ev = s.Log.Error()
	}
	ev.Str("script", path).Str("op", op).Str("elastic_ip", a.PublicIP).Str("instance_id", a.InstanceID).
		Str("user", a.Owner).Int("pgid", res.Process.PGID).Dur("took", res.Took).Int("exit_code", res.ExitCode).
		Str("stdout", res.Stdout).Str("stderr", res.Stderr).Err(err).Msg("elastic IP script")
	if err == nil {
		return nil
	}
	return &ScriptError{Op: op, Path: path, ExitCode: res.ExitCode, TimedOut: res.TimedOut, Err: err}
}

// scriptEnv is the association in ECONE_* variables, added to scriptrun's
// clean environment.
func scriptEnv(a Association) []string {
	return []string{
		"ECONE_ELASTIC_IP=" + a.PublicIP,
		"ECONE_PRIVATE_IP=" + a.PrivateIP,
		"ECONE_INSTANCE_ID=" + a.InstanceID,
		"ECONE_USER=" + a.Owner,
	}
}
