package guard

import (
	"testing"
	"time"
)

func TestRunningStep(t *testing.T) {
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		ran       time.Duration
		max, lead time.Duration
		want      Step
	}{
		{"no limit", 100 * time.Hour, 0, time.Hour, None},
		{"early", time.Hour, 8 * time.Hour, 30 * time.Minute, None},
		{"just before the lead", 7*time.Hour + 29*time.Minute, 8 * time.Hour, 30 * time.Minute, None},
		{"within the lead", 7*time.Hour + 30*time.Minute, 8 * time.Hour, 30 * time.Minute, Warn},
		{"no warning", 7*time.Hour + 59*time.Minute, 8 * time.Hour, 0, None},
		{"at the limit", 8 * time.Hour, 8 * time.Hour, 30 * time.Minute, Act},
		{"past it", 80 * time.Hour, 8 * time.Hour, 0, Act},
	}
	for _, c := range cases {
		if got := RunningStep(start, start.Add(c.ran), c.max, c.lead); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}

// Keys tell apart what must be done separately, and only that.
func TestActionKey(t *testing.T) {
	at := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		a, b Action
		same bool
	}{
		{"same interval", Action{Kind: MaxHours, Owner: "ann", InstanceID: "i-1", Stamp: at}, Action{Kind: MaxHours, Owner: "ann", InstanceID: "i-1", Stamp: at.In(time.FixedZone("x", 3600)), Reason: "other"}, true},
		{"next interval", Action{Kind: MaxHours, Owner: "ann", InstanceID: "i-1", Stamp: at}, Action{Kind: MaxHours, Owner: "ann", InstanceID: "i-1", Stamp: at.Add(time.Nanosecond)}, false},
		{"warning and stop", Action{Kind: Warning, Owner: "ann", InstanceID: "i-1", Stamp: at}, Action{Kind: MaxHours, Owner: "ann", InstanceID: "i-1", Stamp: at}, false},
		{"budget raised", Action{Kind: Budget, Owner: "ann", Budget: 5_000_000}, Action{Kind: Budget, Owner: "ann", Budget: 6_000_000}, false},
		{"budget again", Action{Kind: Budget, Owner: "ann", Budget: 5_000_000, Planned: at}, Action{Kind: Budget, Owner: "ann", Budget: 5_000_000}, true},
		{"group and user", Action{Kind: TermEnd, Group: "ann", Stamp: at}, Action{Kind: TermEnd, Owner: "ann", Stamp: at}, false},
	}
	for _, c := range cases {
		if got := c.a.Key() == c.b.Key(); got != c.same {
			t.Errorf("%s: %q vs %q: got same %v, want %v", c.name, c.a.Key(), c.b.Key(), got, c.same)
		}
	}
}

func TestTargetCheck(t *testing.T) {
	cases := []struct {
		t  Target
		ok bool
	}{
		{Target{User: "ann"}, true},
		{Target{Group: "cs101"}, true},
		{Target{All: true}, true},
		{Target{}, false},
		{Target{User: "ann", Group: "cs101"}, false},
		{Target{Group: "cs101", All: true}, false},
	}
	for _, c := range cases {
		if err := c.t.Check(); (err == nil) != c.ok {
			t.Errorf("%+v: got error %v, want ok=%v", c.t, err, c.ok)
		}
	}
}
