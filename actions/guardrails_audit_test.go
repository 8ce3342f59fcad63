package actions

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/econe/econe-server/audit"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/quota"
)

// A guardrail's stop is in the audit log, as the guardrails' doing, around
// the change; and an audit log that cannot be written does not keep a
// forgotten instance running (the action is recorded in the store first).
func TestGuardrailStopAudited(t *testing.T) {
	cfg := conf.Default()
	cfg.Quota.MaxRunningHours = quota.Int(1)
	t.Run("audited", func(t *testing.T) {
		e, clock, g, _ := newGuardEnv(t, cfg)
		dir := t.TempDir()
		log, err := audit.Open(audit.Options{Dir: dir, Clock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		g.Audit = log.Record
		id := launch(t, e, "carol")[0]
		clock.Advance(time.Hour)
		sweep(t, g)
		if got := stateOf(t, e, "carol", id); got != "stopping" && got != "stopped" {
			t.Fatalf("state: got %s, want stopping or stopped", got)
		}
		entries, bad, err := audit.Read(dir)
		if err != nil || bad != 0 {
			t.Fatalf("read: %v (%d bad lines)", err, bad)
		}
		var got []string
		for _, en := range entries {
			got = append(got, en.Phase+" "+en.User+" "+en.Source+" "+en.Action+" "+en.Result)
			if en.Phase == audit.PhaseRequest && !slices.Equal(en.Resources, []string{id, "carol"}) {
				t.Errorf("request resources: got %v, want [%s carol]", en.Resources, id)
			}
		}
		want := []string{"request guardrails guardrail max_hours guardrail.stop ", "result guardrails guardrail max_hours guardrail.stop Success"}
		if !slices.Equal(got, want) {
			t.Errorf("entries:\n got %q\nwant %q", got, want)
		}
	})
	t.Run("audit log failing", func(t *testing.T) {
		e, clock, g, _ := newGuardEnv(t, cfg)
		g.Audit = func(string, string, string, []string, func() ([]string, error)) error {
			return errors.New("disk full")
		}
		id := launch(t, e, "carol")[0]
		clock.Advance(time.Hour)
		sweep(t, g)
		if got := stateOf(t, e, "carol", id); got != "stopping" && got != "stopped" {
			t.Errorf("state: got %s, want stopping or stopped", got)
		}
	})
}
