package notify

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/econe/econe-server/scriptrun"
	"github.com/rs/zerolog"
)

// Script runs the admin's notifier script for each event, under the
// elastic IP scripts' contract (package scriptrun): `SCRIPT KIND USER
// BASE64_EVENT`, arguments never parsed by a shell, a clean environment
// with the event in ECONE_* variables, its process group killed whole
// after Timeout. Its output goes to the log.
type Script struct {
	Path    string
	Timeout time.Duration
	Log     zerolog.Logger
}

func (s *Script) Name() string { return "script" }

func (s *Script) Notify(ctx context.Context, ev Event) error {
	raw, err := encode(ev)
	if err != nil {
		return err
	}
	res, err := scriptrun.Run(ctx, scriptrun.Command{
		Path:    s.Path,
		Args:    []string{string(ev.Kind), ev.User, base64.StdEncoding.EncodeToString(raw)},
		Env:     scriptEnv(ev),
		Timeout: s.Timeout,
	})
	line := s.Log.Debug()
	if err != nil {
		line = s.Log.Error()
	}
	line.Str("script", s.Path).Str("kind", string(ev.Kind)).Str("user", ev.User).Int("pgid", res.Process.PGID).
		Dur("took", res.Took).Int("exit_code", res.ExitCode).Str("stdout", res.Stdout).Str("stderr", res.Stderr).
		Err(err).Msg("notifier script")
	switch {
	case err == nil:
		return nil
	case res.TimedOut:
		return fmt.Errorf("notifier script %s timed out after %s (its process group was killed)", s.Path, s.Timeout)
	case res.ExitCode > 0:
		return fmt.Errorf("notifier script %s exited with status %d", s.Path, res.ExitCode)
	}
	return fmt.Errorf("notifier script %s: %w", s.Path, err)
}

// scriptEnv is the event in ECONE_* variables.
func scriptEnv(ev Event) []string {
	return []string{
		"ECONE_EVENT_KIND=" + string(ev.Kind),
		"ECONE_USER=" + ev.User,
		"ECONE_GROUP=" + ev.Group,
		"ECONE_INSTANCE_IDS=" + strings.Join(ev.InstanceIDs, " "),
		"ECONE_REASON=" + ev.Reason,
		"ECONE_TIME=" + ev.Time.UTC().Format(time.RFC3339),
	}
}
