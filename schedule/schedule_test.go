package schedule

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST cases need America/New_York wherever tests run
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustParse(t *testing.T, text string, loc *time.Location) Schedule {
	t.Helper()
	s, err := Parse(text, loc)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return s
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"empty", "", "want \"DAYS HH:MM\""},
		{"no time", "daily", "want \"DAYS HH:MM\""},
		{"extra field", "daily 23:00 UTC", "want \"DAYS HH:MM\""},
		{"unknown day", "everyday 23:00", `unknown days "everyday"`},
		{"bad range", "mon-xyz 23:00", `unknown days "mon-xyz"`},
		{"empty list item", "mon,,fri 23:00", `unknown days ""`},
		{"hour 24", "daily 24:00", `time "24:00" is not HH:MM`},
		{"minute 60", "daily 23:60", `time "23:60" is not HH:MM`},
		{"one-digit minute", "daily 23:5", `time "23:5" is not HH:MM`},
		{"no colon", "daily 2300", `time "2300" is not HH:MM`},
		{"am/pm", "daily 11pm", `time "11pm" is not HH:MM`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.text, time.UTC)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestNext(t *testing.T) {
	madrid := mustLoad(t, "Europe/Madrid")
	// Thursday 2026-11-19 12:00 in Madrid (UTC+1 in November).
	thu := time.Date(2026, 11, 19, 12, 0, 0, 0, madrid)
	cases := []struct {
		name, text string
		after      time.Time
		want       time.Time
	}{
		{"daily, later today", "daily 23:00", thu, time.Date(2026, 11, 19, 23, 0, 0, 0, madrid)},
		{"daily, earlier today: tomorrow", "daily 08:00", thu, time.Date(2026, 11, 20, 8, 0, 0, 0, madrid)},
		{"exactly at the time: the next one", "daily 12:00", thu, time.Date(2026, 11, 20, 12, 0, 0, 0, madrid)},
		{"weekdays from Friday evening: Monday", "weekdays 18:30", time.Date(2026, 11, 20, 19, 0, 0, 0, madrid), time.Date(2026, 11, 23, 18, 30, 0, 0, madrid)},
		{"weekends", "weekends 9:05", thu, time.Date(2026, 11, 21, 9, 5, 0, 0, madrid)},
		{"list", "mon,wed 18:00", thu, time.Date(2026, 11, 23, 18, 0, 0, 0, madrid)},
		{"range wrapping Sunday", "sat-mon 07:00", thu, time.Date(2026, 11, 21, 7, 0, 0, 0, madrid)},
		{"same day next week", "thu 11:00", thu, time.Date(2026, 11, 26, 11, 0, 0, 0, madrid)},
		{"upper case", "Daily 23:00", thu, time.Date(2026, 11, 19, 23, 0, 0, 0, madrid)},
		{"after given in another zone", "daily 23:00", thu.UTC(), time.Date(2026, 11, 19, 23, 0, 0, 0, madrid)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mustParse(t, c.text, madrid).Next(c.after); !got.Equal(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// New York jumps from 02:00 EST to 03:00 EDT on 2026-03-08 and back from
// 02:00 EDT to 01:00 EST on 2026-11-01.
func TestDaylightSavingTime(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	utc := func(h, m int, day int, month time.Month) time.Time {
		return time.Date(2026, month, day, h, m, 0, 0, time.UTC)
	}
	cases := []struct {
		name, text string
		after      time.Time
		want       time.Time
	}{
		{"before spring forward", "daily 23:00", utc(12, 0, 7, time.March), utc(4, 0, 8, time.March)},          // 23:00 EST
		{"after spring forward", "daily 23:00", utc(12, 0, 8, time.March), utc(3, 0, 9, time.March)},           // 23:00 EDT
		{"skipped time fires at the jump", "daily 02:30", utc(12, 0, 7, time.March), utc(7, 0, 8, time.March)}, // 03:00 EDT
		{"after the skipped day: normal again", "daily 02:30", utc(8, 0, 8, time.March), utc(6, 30, 9, time.March)},
		{"repeated time fires at its first occurrence", "daily 01:30", utc(12, 0, 31, time.October), utc(5, 30, 1, time.November)}, // 01:30 EDT
		{"not again at the second occurrence", "daily 01:30", utc(5, 30, 1, time.November), utc(6, 30, 2, time.November)},          // next day 01:30 EST
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustParse(t, c.text, ny)
			got := s.Next(c.after)
			if !got.Equal(c.want) {
				t.Errorf("Next: got %v, want %v", got.In(ny), c.want.In(ny))
			}
			if last := s.Last(got); !last.Equal(got) {
				t.Errorf("Last(%v): got %v, want the same time", got.In(ny), last.In(ny))
			}
		})
	}
}

func TestFired(t *testing.T) {
	loc := mustLoad(t, "Europe/Madrid")
	l := List{mustParse(t, "daily 23:00", loc), mustParse(t, "weekdays 18:30", loc)}
	at := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, loc) }
	cases := []struct {
		name      string
		last, now time.Time
		want      []string // "schedule@time"
	}{
		{"nothing yet", at(19, 12, 0), at(19, 18, 29), nil},
		{"exactly at the time", at(19, 12, 0), at(19, 18, 30), []string{"weekdays 18:30@2026-11-19 18:30"}},
		{"last is exclusive", at(19, 18, 30), at(19, 22, 0), nil},
		{"both", at(19, 18, 0), at(19, 23, 30), []string{"daily 23:00@2026-11-19 23:00", "weekdays 18:30@2026-11-19 18:30"}},
		{"away for days: each once, at its latest", at(19, 12, 0), at(23, 12, 0), []string{"daily 23:00@2026-11-22 23:00", "weekdays 18:30@2026-11-20 18:30"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, f := range l.Fired(c.last, c.now) {
				got = append(got, f.Schedule.String()+"@"+f.At.In(loc).Format("2006-01-02 15:04"))
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	if got, want := l.Next(at(20, 19, 0)), at(20, 23, 0); !got.Equal(want) {
		t.Errorf("List.Next: got %v, want %v", got, want)
	}
	if got := (List{}).Next(at(20, 19, 0)); !got.IsZero() {
		t.Errorf("empty List.Next: got %v, want the zero time", got)
	}
}
