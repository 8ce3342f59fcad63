package conf

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGuardrailsInvalid(t *testing.T) {
	group := func(g Group) func(*Config) {
		return func(c *Config) { c.Groups = map[string]Group{"cs61c": g} }
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		path   string
		msg    string
	}{
		{"bad time zone", func(c *Config) { c.Guardrails.TimeZone = "Europe/Atlantis" }, "guardrails.time_zone", `unknown time zone "Europe/Atlantis"`},
		{"empty time zone", func(c *Config) { c.Guardrails.TimeZone = "" }, "guardrails.time_zone", "must not be empty"},
		{"sweep too often", func(c *Config) { c.Guardrails.SweepInterval = Duration(time.Millisecond) }, "guardrails.sweep_interval", "must be from 1s to 1h"},
		{"negative lead time", func(c *Config) { c.Guardrails.WarningLeadTime = -1 }, "guardrails.warning_lead_time", "must be >= 0"},
		{"unknown action", func(c *Config) { c.Guardrails.MaxRunningHoursAction = "hibernate" }, "guardrails.max_running_hours_action", `unknown action "hibernate": use stop or terminate`},
		{"empty action", func(c *Config) { c.Guardrails.MaxRunningHoursAction = "" }, "guardrails.max_running_hours_action", `unknown action ""`},
		{"no queue", func(c *Config) { c.Guardrails.NotifyQueue = 0 }, "guardrails.notify_queue", "must be at least 1"},
		{"webhook not a URL", func(c *Config) { c.Guardrails.Webhook.URL = "hooks.example.edu/x" }, "guardrails.webhook.url", "absolute http:// or https:// URL"},
		{"webhook bad URL", func(c *Config) { c.Guardrails.Webhook.URL = "http://[::1" }, "guardrails.webhook.url", "invalid URL"},
		{"webhook ftp", func(c *Config) { c.Guardrails.Webhook.URL = "ftp://example.edu/" }, "guardrails.webhook.url", "absolute http:// or https:// URL"},
		{"webhook timeout", func(c *Config) { c.Guardrails.Webhook.Timeout = 0 }, "guardrails.webhook.timeout", "must be > 0"},
		{"webhook attempts", func(c *Config) { c.Guardrails.Webhook.MaxAttempts = 0 }, "guardrails.webhook.max_attempts", "must be 1..20, got 0"},
		{"webhook backoff", func(c *Config) { c.Guardrails.Webhook.InitialBackoff = 0 }, "guardrails.webhook.initial_backoff", "must be > 0"},
		{"webhook max backoff below initial", func(c *Config) { c.Guardrails.Webhook.MaxBackoff = Duration(time.Millisecond) }, "guardrails.webhook.max_backoff", "must be >= guardrails.webhook.initial_backoff"},
		{"script missing", func(c *Config) { c.Guardrails.Script = filepath.Join(t.TempDir(), "missing") }, "guardrails.script", "no such file"},
		{"script timeout", func(c *Config) { c.Guardrails.ScriptTimeout = 0 }, "guardrails.script_timeout", "must be > 0"},
		{"bad date", group(Group{TermEnd: "15/01/2027"}), "groups.cs61c.term_end", `invalid date "15/01/2027": use YYYY-MM-DD`},
		{"impossible date", group(Group{TermEnd: "2027-02-30"}), "groups.cs61c.term_end", `invalid date "2027-02-30"`},
		{"bad schedule", group(Group{StopSchedule: []string{"daily 23:00", "nightly 23:00"}}), "groups.cs61c.stop_schedule[1]", `unknown days "nightly"`},
		{"bad schedule time", group(Group{StopSchedule: []string{"daily 25:00"}}), "groups.cs61c.stop_schedule[0]", `time "25:00" is not HH:MM`},
		{"group action", group(Group{MaxRunningHoursAction: "halt"}), "groups.cs61c.max_running_hours_action", `unknown action "halt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, tt.mutate, tt.path, tt.msg) })
	}
}

func TestGuardrailsFromFile(t *testing.T) {
	c := mustLoad(t, `
guardrails:
  time_zone: America/Los_Angeles
  max_running_hours_action: terminate
  webhook:
    url: https://hooks.example.edu/econe?token=s3cret
groups:
  cs61c:
    term_end: 2027-01-15
    stop_schedule: ["daily 23:00", "weekdays 18:30"]
    max_running_hours_action: stop
  open:
    key_name_prefix: x-
`)
	la, _ := time.LoadLocation("America/Los_Angeles")
	end, ok := c.TermEnd("cs61c")
	if want := time.Date(2027, 1, 16, 0, 0, 0, 0, la); !ok || !end.Equal(want) {
		t.Errorf("TermEnd(cs61c): got %v, %v, want %v (the midnight after the last day, in the configured zone), true", end, ok, want)
	}
	for _, g := range []string{"open", "unknown", ""} {
		if end, ok := c.TermEnd(g); ok {
			t.Errorf("TermEnd(%q): got %v, want none", g, end)
		}
	}
	s := c.StopSchedule("cs61c")
	from := time.Date(2026, 11, 20, 12, 0, 0, 0, la) // a Friday
	if got, want := s.Next(from), time.Date(2026, 11, 20, 18, 30, 0, 0, la); len(s) != 2 || !got.Equal(want) {
		t.Errorf("StopSchedule(cs61c): got %d schedules, next %v, want 2, %v", len(s), got, want)
	}
	if got := c.StopSchedule("open"); len(got) != 0 {
		t.Errorf("StopSchedule(open): got %v, want none", got)
	}
	for group, want := range map[string]string{"cs61c": "stop", "open": "terminate", "": "terminate"} {
		if got := c.MaxRunningHoursAction(group); got != want {
			t.Errorf("MaxRunningHoursAction(%q): got %q, want %q", group, got, want)
		}
	}
}

func TestGuardrailsTypeErrors(t *testing.T) {
	_, err := LoadBytes("econe.yaml", []byte("groups:\n  cs61c:\n    stop_schedule: daily 23:00\n"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "groups.cs61c.stop_schedule" || !strings.Contains(fe.Msg, "list of strings") {
		t.Errorf("got %v, want groups.cs61c.stop_schedule: expected a list of strings", err)
	}
}
