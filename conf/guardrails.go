package conf

import (
	"fmt"
	"net/url"
	"sync"
	"time"
	_ "time/tzdata" // time zones work on hosts without /usr/share/zoneinfo

	"github.com/econe/econe-server/schedule"
)

// Guardrails configures what stops forgotten instances, and who is told.
// The limits themselves (max running hours, budget) are quota limits; this
// says what happens when one is reached.
type Guardrails struct {
	// TimeZone is the IANA name (e.g. Europe/Madrid) in which term_end dates
	// and stop schedules are read.
	TimeZone string `yaml:"time_zone"`
	// SweepInterval is how often the guardrails look at running instances.
	SweepInterval Duration `yaml:"sweep_interval"`
	// WarningLeadTime is how long before an automatic stop the student's
	// notification (a warning) is sent; 0 sends none.
	WarningLeadTime Duration `yaml:"warning_lead_time"`
	// MaxRunningHoursAction is stop or terminate: what happens to an
	// instance running longer than its max running hours. A group may
	// override it.
	MaxRunningHoursAction string `yaml:"max_running_hours_action"`
	// StopOnBudget stops a student's running instances when their cost
	// reaches their budget (new launches are refused either way).
	StopOnBudget bool `yaml:"stop_on_budget"`
	// NotifyQueue bounds the notifications waiting for each notifier;
	// beyond it they are dropped (and logged), never waited for.
	NotifyQueue int     `yaml:"notify_queue"`
	Webhook     Webhook `yaml:"webhook"`
	// Script is an admin executable run for each notification, under the
	// elastic IP scripts' contract; "" runs none.
	Script        string   `yaml:"script"`
	ScriptTimeout Duration `yaml:"script_timeout"`
}

// Webhook is where notifications are POSTed as JSON; no URL, no webhook.
type Webhook struct {
	URL string `yaml:"url"`
	// Timeout bounds each attempt.
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts is how many times one notification is tried in all.
	MaxAttempts int `yaml:"max_attempts"`
	// InitialBackoff is the wait after the first failure; it doubles after
	// each further one, up to MaxBackoff.
	InitialBackoff Duration `yaml:"initial_backoff"`
	MaxBackoff     Duration `yaml:"max_backoff"`
}

// Guardrail actions for MaxRunningHoursAction.
const (
	ActionStop      = "stop"
	ActionTerminate = "terminate"
)

func defaultGuardrails() Guardrails {
	return Guardrails{
		TimeZone:              "UTC",
		SweepInterval:         Duration(time.Minute),
		WarningLeadTime:       Duration(30 * time.Minute),
		MaxRunningHoursAction: ActionStop,
		NotifyQueue:           1000,
		Webhook: Webhook{
			Timeout:        Duration(10 * time.Second),
			MaxAttempts:    5,
			InitialBackoff: Duration(time.Second),
			MaxBackoff:     Duration(time.Minute),
		},
		ScriptTimeout: Duration(30 * time.Second),
	}
}

// termEndLayout is how term_end is written.
const termEndLayout = "2006-01-02"

// locations caches loaded time zones: the term end is checked on every
// request of a student whose group has one.
var locations sync.Map // name -> *time.Location

// loadLocation is time.LoadLocation, cached.
func loadLocation(name string) (*time.Location, error) {
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, loc)
	return loc, nil
}

// Location is the guardrails' time zone; UTC if it does not load (which
// Validate reports).
func (g Guardrails) Location() *time.Location {
	loc, err := loadLocation(g.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// TermEnd is when the group's term is over: the midnight that ends its
// term_end date in the guardrails' time zone. ok is false when the group
// has no term end.
func (c *Config) TermEnd(group string) (end time.Time, ok bool) {
	g, found := c.Groups[group]
	if !found || g.TermEnd == "" {
		return time.Time{}, false
	}
	day, err := time.ParseInLocation(termEndLayout, g.TermEnd, c.Guardrails.Location())
	if err != nil {
		return time.Time{}, false // Validate reports it
	}
	return day.AddDate(0, 0, 1), true
}

// StopSchedule is the group's stop schedules in the guardrails' time zone.
func (c *Config) StopSchedule(group string) schedule.List {
	var l schedule.List
	for _, text := range c.Groups[group].StopSchedule {
		if s, err := schedule.Parse(text, c.Guardrails.Location()); err == nil { // Validate reports errors
			l = append(l, s)
		}
	}
	return l
}

// MaxRunningHoursAction is what happens to an instance of the group that
// runs too long: the group's setting, else the guardrails'.
func (c *Config) MaxRunningHoursAction(group string) string {
	if a := c.Groups[group].MaxRunningHoursAction; a != "" {
		return a
	}
	return c.Guardrails.MaxRunningHoursAction
}

func (c *Config) checkGuardrails(p *problems) {
	g := &c.Guardrails
	if g.TimeZone == "" {
		p.add("guardrails.time_zone", "must not be empty: use an IANA time zone such as UTC or Europe/Madrid")
	} else if _, err := loadLocation(g.TimeZone); err != nil {
		p.add("guardrails.time_zone", "unknown time zone %q: use an IANA name such as UTC or Europe/Madrid", g.TimeZone)
	}
	if g.SweepInterval < Duration(time.Second) || g.SweepInterval > Duration(time.Hour) {
		p.add("guardrails.sweep_interval", "must be from 1s to 1h, got %s", g.SweepInterval)
	}
	if g.WarningLeadTime < 0 {
		p.add("guardrails.warning_lead_time", "must be >= 0 (0 sends no warning), got %s", g.WarningLeadTime)
	}
	checkAction(p, "guardrails.max_running_hours_action", g.MaxRunningHoursAction, false)
	if g.NotifyQueue < 1 {
		p.add("guardrails.notify_queue", "must be at least 1, got %d", g.NotifyQueue)
	}
	checkWebhook(p, &g.Webhook)
	checkExecutable(p, "guardrails.script", g.Script)
	if g.ScriptTimeout <= 0 {
		p.add("guardrails.script_timeout", "must be > 0, got %s", g.ScriptTimeout)
	}
}

func checkAction(p *problems, path, action string, emptyOK bool) {
	if action == ActionStop || action == ActionTerminate || (emptyOK && action == "") {
		return
	}
	p.add(path, "unknown action %q: use %s or %s", action, ActionStop, ActionTerminate)
}

func checkWebhook(p *problems, w *Webhook) {
	if w.URL != "" {
		u, err := url.Parse(w.URL)
		switch {
		case err != nil:
			p.add("guardrails.webhook.url", "invalid URL: %v", err)
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			p.add("guardrails.webhook.url", "must be an absolute http:// or https:// URL")
		}
	}
	if w.Timeout <= 0 {
		p.add("guardrails.webhook.timeout", "must be > 0, got %s", w.Timeout)
	}
	if w.MaxAttempts < 1 || w.MaxAttempts > 20 {
		p.add("guardrails.webhook.max_attempts", "must be 1..20, got %d", w.MaxAttempts)
	}
	if w.InitialBackoff <= 0 {
		p.add("guardrails.webhook.initial_backoff", "must be > 0, got %s", w.InitialBackoff)
	}
	if w.MaxBackoff < w.InitialBackoff {
		p.add("guardrails.webhook.max_backoff", "must be >= guardrails.webhook.initial_backoff (%s), got %s", w.InitialBackoff, w.MaxBackoff)
	}
}

// checkGroupGuardrails checks the guardrail keys of group name.
func (c *Config) checkGroupGuardrails(p *problems, name string, g Group) {
	path := "groups." + name + "."
	if g.TermEnd != "" {
		if _, err := time.Parse(termEndLayout, g.TermEnd); err != nil {
			p.add(path+"term_end", "invalid date %q: use YYYY-MM-DD, the term's last day", g.TermEnd)
		}
	}
	loc := c.Guardrails.Location()
	for i, text := range g.StopSchedule {
		if _, err := schedule.Parse(text, loc); err != nil {
			p.add(fmt.Sprintf("%sstop_schedule[%d]", path, i), "%v", err)
		}
	}
	checkAction(p, path+"max_running_hours_action", g.MaxRunningHoursAction, true)
}
