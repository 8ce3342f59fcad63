// Package schedule reads and evaluates stop schedules: "DAYS HH:MM" wall
// clock times in one time zone, such as "daily 23:00" or "mon-fri 18:30".
// It has no clock of its own: callers pass the times, so a sweep driven by
// an injected clock and a test agree on every answer.
//
// Daylight saving time: a time a jump forward skips (02:30 on the night
// clocks go from 02:00 to 03:00) fires at the jump itself; a time a jump
// back repeats (01:30 twice) fires once, at its first occurrence.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is one recurring wall-clock time in a time zone.
type Schedule struct {
	text   string
	days   [7]bool // by time.Weekday
	hour   int
	minute int
	loc    *time.Location
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// dayWords are the names for common sets of days.
var dayWords = map[string][]time.Weekday{
	"daily":    {time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday},
	"weekdays": {time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	"weekends": {time.Saturday, time.Sunday},
}

// Syntax is the form Parse accepts, for error messages and documentation.
const Syntax = `"DAYS HH:MM": DAYS is daily, weekdays, weekends, or a comma-separated list of days and ranges (mon,wed,fri or mon-thu); HH:MM is a 24-hour time`

// Parse reads "DAYS HH:MM" (see Syntax); the time is on the wall clock of loc.
func Parse(text string, loc *time.Location) (Schedule, error) {
	s := Schedule{text: text, loc: loc}
	fields := strings.Fields(strings.ToLower(text))
	if len(fields) != 2 {
		return Schedule{}, fmt.Errorf("invalid schedule %q: want %s", text, Syntax)
	}
	if err := s.parseDays(fields[0]); err != nil {
		return Schedule{}, fmt.Errorf("invalid schedule %q: %w", text, err)
	}
	h, m, ok := parseClock(fields[1])
	if !ok {
		return Schedule{}, fmt.Errorf("invalid schedule %q: time %q is not HH:MM from 00:00 to 23:59", text, fields[1])
	}
	s.hour, s.minute = h, m
	return s, nil
}

func (s *Schedule) parseDays(spec string) error {
	if days, ok := dayWords[spec]; ok {
		for _, d := range days {
			s.days[d] = true
		}
		return nil
	}
	for _, item := range strings.Split(spec, ",") {
		from, to, isRange := strings.Cut(item, "-")
		first, ok1 := dayNames[from]
		last, ok2 := dayNames[to]
		if !isRange {
			last, ok2 = first, ok1
		}
		if !ok1 || !ok2 {
			return fmt.Errorf("unknown days %q: use daily, weekdays, weekends, or days mon, tue, wed, thu, fri, sat, sun", item)
		}
		// A range may wrap past Sunday: fri-mon is Friday to Monday.
		for d := first; ; d = (d + 1) % 7 {
			s.days[d] = true
			if d == last {
				break
			}
		}
	}
	return nil
}

func parseClock(s string) (hour, minute int, ok bool) {
	hs, ms, found := strings.Cut(s, ":")
	if !found || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, 0, false
	}
	return h, m, true
}

// String is the text the schedule was parsed from.
func (s Schedule) String() string { return s.text }

// at is when the schedule fires on the given date (its year, month and day
// in s.loc), and whether it fires that day at all.
func (s Schedule) at(year int, month time.Month, day int) (time.Time, bool) {
	date := time.Date(year, month, day, 0, 0, 0, 0, s.loc)
	if !s.days[date.Weekday()] {
		return time.Time{}, false
	}
	t := time.Date(year, month, day, s.hour, s.minute, 0, 0, s.loc)
	// A time skipped by a jump forward does not exist: time.Date moves it
	// by the gap, to one side of the jump or the other. Fire at the jump,
	// when the wall clock passes HH:MM.
	want := time.Date(year, month, day, s.hour, s.minute, 0, 0, time.UTC)
	switch got := wall(t); {
	case got.Before(want):
		_, t = t.ZoneBounds()
	case got.After(want):
		t, _ = t.ZoneBounds()
	}
	return t, true
}

// wall is t's wall clock reading as a UTC time, for comparing readings.
func wall(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// Next is the first time the schedule fires strictly after after.
func (s Schedule) Next(after time.Time) time.Time {
	y, m, d := after.In(s.loc).Date()
	// Every day of the week is within eight dates of after's own.
	for i := range 8 {
		if t, ok := s.at(y, m, d+i); ok && t.After(after) {
			return t
		}
	}
	return time.Time{} // no days: Parse never makes such a schedule
}

// Last is the latest time the schedule fired at or before t.
func (s Schedule) Last(t time.Time) time.Time {
	y, m, d := t.In(s.loc).Date()
	for i := range 8 {
		if at, ok := s.at(y, m, d-i); ok && !at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// List is a group's schedules.
type List []Schedule

// Firing is one schedule having fired at At.
type Firing struct {
	Schedule Schedule
	At       time.Time
}

// Fired lists the schedules that fired in (last, now], each with its latest
// firing in that interval: a sweep that ran at last and runs again at now
// acts on each exactly once, however long it was away.
func (l List) Fired(last, now time.Time) []Firing {
	var out []Firing
	for _, s := range l {
		if at := s.Last(now); at.After(last) {
			out = append(out, Firing{s, at})
		}
	}
	return out
}

// Next is the earliest time any schedule of l fires after after; zero when
// l is empty.
func (l List) Next(after time.Time) time.Time {
	var next time.Time
	for _, s := range l {
		if t := s.Next(after); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}
