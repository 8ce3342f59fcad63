package usage

import (
	"sort"
	"strings"
	"time"

	"github.com/econe/econe-server/store"
)

// Period is how a report splits its window.
type Period string

// Periods of a report.
const (
	Whole Period = ""     // one row per instance type for the whole window
	Day   Period = "day"  // from midnight
	Week  Period = "week" // from Monday midnight (ISO weeks)
)

// Window selects what a report covers.
type Window struct {
	// Since and Until bound the window [Since, Until); a zero Until (or
	// one after now) means now.
	Since, Until time.Time
	By           Period
	// Loc is where days and weeks begin; nil is UTC.
	Loc *time.Location
}

// Row is one owner's usage of one instance type in one period.
type Row struct {
	Period       time.Time // the period's first instant; zero for Whole
	InstanceType string
	Total
}

// Report is one owner's usage over a window. Each row's cost is rounded
// down once from its exact sum, and so is Total's: Total may exceed the sum
// of the rows by less than a micro-dollar a row.
type Report struct {
	Owner string
	Rows  []Row // by period, then instance type
	Total Total
	// CostToDate is the cost of everything the owner used up to now,
	// whatever the window: what a budget is spent on.
	CostToDate int64
}

// Reports calls fn with the report of each of owners that has intervals
// (every owner of the ledger when owners is nil), in owner order. It reads
// each interval once: the ledger is keyed by start, and an interval that
// started long before the window may still reach into it, so a window
// does not shorten the scan (the cost to date needs it all anyway).
func Reports(tx store.Tx, owners []string, w Window, now time.Time, fn func(*Report) error) error {
	if w.Until.IsZero() || w.Until.After(now) {
		w.Until = now
	}
	if w.Loc == nil {
		w.Loc = time.UTC
	}
	var acc *accumulator
	flush := func() error {
		if acc == nil {
			return nil
		}
		r := acc.report()
		acc = nil
		return fn(r)
	}
	add := func(k string, iv *Interval) error {
		if acc != nil && acc.owner != iv.Owner {
			if err := flush(); err != nil {
				return err
			}
		}
		if acc == nil {
			acc = newAccumulator(iv.Owner, w)
		}
		if iv.End.IsZero() {
			iv.End = now
		}
		acc.add(iv)
		return nil
	}
	if owners == nil {
		if err := store.ScanJSON(tx, store.BucketUsageIntervals, "", add); err != nil {
			return err
		}
		return flush()
	}
	sorted := append([]string(nil), owners...)
	sort.Strings(sorted)
	for _, o := range sorted {
		if err := store.ScanJSON(tx, store.BucketUsageIntervals, store.OwnerPrefix(o), add); err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// Sum totals owner's usage over [since, until) (zero until: up to now),
// clipping intervals to the window; open ones run to now. An interval's
// minimum billed seconds are charged in the window where it started.
func Sum(tx store.Tx, owner string, since, until, now time.Time) (Totals, error) {
	out := Totals{ByType: map[string]Total{}}
	err := Reports(tx, []string{owner}, Window{Since: since, Until: until}, now, func(r *Report) error {
		out.Total = r.Total
		for _, row := range r.Rows {
			out.ByType[row.InstanceType] = row.Total
		}
		return nil
	})
	return out, err
}

// accumulator adds up one owner's intervals. Costs are kept in
// micro-dollar-seconds per hour and divided by 3600 once at the end, so
// nothing is lost to rounding along the way.
type accumulator struct {
	owner  string
	w      Window
	rows   map[rowKey]*Row
	costs  map[rowKey]int64
	toDate int64
}

type rowKey struct {
	period time.Time
	typ    string
}

func newAccumulator(owner string, w Window) *accumulator {
	return &accumulator{owner: owner, w: w, rows: map[rowKey]*Row{}, costs: map[rowKey]int64{}}
}

// add splits iv (End set) at the window's edges and its periods' bounds.
// The minimum billed seconds of a start go to the period it started in,
// when that is inside the window.
func (a *accumulator) add(iv *Interval) {
	_, extra := iv.billed()
	a.toDate += iv.cost()
	if !iv.Start.Before(a.w.Since) && iv.Start.Before(a.w.Until) {
		p := a.periodStart(iv.Start)
		a.row(p, iv) // even for an interval of no length: its minimum is billed
		a.costs[rowKey{p, iv.InstanceType}] += extra * iv.MicrosPerHour
	}
	start, end := maxTime(iv.Start, a.w.Since), minTime(iv.End, a.w.Until)
	for start.Before(end) {
		p := a.periodStart(start)
		stop := end
		if a.w.By != Whole {
			stop = minTime(end, a.next(p))
		}
		secs := int64(stop.Sub(start) / time.Second)
		r := a.row(p, iv)
		if iv.Kind == Running {
			r.InstanceSeconds += secs
			r.VCPUSeconds += secs * int64(iv.VCPUs)
		} else {
			r.StoppedSeconds += secs
		}
		a.costs[rowKey{p, iv.InstanceType}] += secs * iv.MicrosPerHour
		start = stop
	}
}

func (a *accumulator) row(p time.Time, iv *Interval) *Row {
	k := rowKey{p, iv.InstanceType}
	r := a.rows[k]
	if r == nil {
		r = &Row{Period: p, InstanceType: iv.InstanceType}
		a.rows[k] = r
	}
	return r
}

// periodStart is the first instant of the period holding t (zero for Whole).
func (a *accumulator) periodStart(t time.Time) time.Time {
	if a.w.By == Whole {
		return time.Time{}
	}
	y, m, d := t.In(a.w.Loc).Date()
	if a.w.By == Week {
		d -= (int(t.In(a.w.Loc).Weekday()) + 6) % 7
	}
	return time.Date(y, m, d, 0, 0, 0, 0, a.w.Loc)
}

// next is the period after the one starting at p (calendar days, so a day
// with a clock change is still one day).
func (a *accumulator) next(p time.Time) time.Time {
	if a.w.By == Week {
		return p.AddDate(0, 0, 7)
	}
	return p.AddDate(0, 0, 1)
}

// cost is the exact sum of the rows' costs, in micro-dollar-seconds per
// hour.
func (a *accumulator) cost() int64 {
	var all int64
	for _, c := range a.costs {
		all += c
	}
	return all
}

func (a *accumulator) report() *Report {
	r := &Report{Owner: a.owner, CostToDate: a.toDate / 3600}
	for k, row := range a.rows {
		row.CostMicros = a.costs[k] / 3600
		r.Total.InstanceSeconds += row.InstanceSeconds
		r.Total.VCPUSeconds += row.VCPUSeconds
		r.Total.StoppedSeconds += row.StoppedSeconds
		r.Rows = append(r.Rows, *row)
	}
	r.Total.CostMicros = a.cost() / 3600
	sort.Slice(r.Rows, func(i, j int) bool {
		if !r.Rows[i].Period.Equal(r.Rows[j].Period) {
			return r.Rows[i].Period.Before(r.Rows[j].Period)
		}
		return strings.Compare(r.Rows[i].InstanceType, r.Rows[j].InstanceType) < 0
	})
	return r
}
