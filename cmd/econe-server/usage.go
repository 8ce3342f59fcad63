package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/usage"
	"github.com/spf13/cobra"
)

func newUsageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usage [--user NAME | --group GROUP] [--since T] [--until T] [--by day|week] [--format table|csv|json]",
		Short: "Report students' instance-hours, vCPU-hours, cost and budget left",
		Long: `Report, from the usage ledger, what each student used per instance type:
instance-hours and vCPU-hours running, hours stopped (for types that price
stopped instances), and the cost at the prices the instances started with.
Without --user or --group, every student is listed, including students
deleted since (their usage stays in the ledger).

The window is [--since, --until): a date (2026-09-01, midnight UTC) or a
time (2026-09-01T08:00:00Z); no --since is the beginning, no --until is now.
Intervals are clipped to the window; an instance still running counts up to
now. --by day or --by week splits each student's rows by UTC day or ISO week
(from Monday), the period named by its first day.

"spent" is everything the student used up to now, whatever the window: what
their budget (quota set NAME --budget) is spent on. "budget_left" is the
budget minus spent; "—" (table) or empty (CSV) or null (JSON) when the
student has no budget. Costs are in the templates' price_per_hour currency.

CSV has a header row and plain decimal numbers (a dot, no thousands
separators); each row repeats the student's spent, budget and budget_left,
and a student with no usage gets one row of zeros. JSON has numbers.

Like the user commands, this reads the running server's store through its
admin socket, or the data directory when the server is stopped.`,
		Example: `  econe-server usage
  econe-server usage --group cs61c --since 2026-09-01 --by week --format csv > cs61c.csv
  econe-server usage --user alice --by day --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, format, err := usageQuery(cmd)
			if err != nil {
				return err
			}
			return withAdmin(cmd, func(svc admin.Service, _ *conf.Config) error {
				rep, err := svc.Usage(q)
				if err != nil {
					return err
				}
				return printUsage(cmd.OutOrStdout(), format, rep)
			})
		},
	}
	f := cmd.Flags()
	f.String("user", "", "only the student `NAME`")
	f.String("group", "", "only the students of `GROUP`")
	f.String("since", "", "start of the window: a date or RFC 3339 `TIME` (default: the beginning)")
	f.String("until", "", "end of the window, excluded: a date or RFC 3339 `TIME` (default: now)")
	f.String("by", "", "split rows by `PERIOD`: day or week")
	f.String("format", "table", "output `FORMAT`: table, csv or json")
	return cmd
}

// usageQuery reads the flags.
func usageQuery(cmd *cobra.Command) (admin.UsageQuery, string, error) {
	f := cmd.Flags()
	var q admin.UsageQuery
	q.User, _ = f.GetString("user")
	q.Group, _ = f.GetString("group")
	by, _ := f.GetString("by")
	format, _ := f.GetString("format")
	switch {
	case q.User != "" && q.Group != "":
		return q, "", fmt.Errorf("give --user or --group, not both")
	case q.User != "":
		if err := admin.ValidName("user", q.User); err != nil {
			return q, "", err
		}
	case q.Group != "":
		if err := admin.ValidName("group", q.Group); err != nil {
			return q, "", err
		}
	}
	switch usage.Period(by) {
	case usage.Whole, usage.Day, usage.Week:
		q.By = usage.Period(by)
	default:
		return q, "", fmt.Errorf("--by: %q is not a period: use day or week", by)
	}
	switch format {
	case "table", "csv", "json":
	default:
		return q, "", fmt.Errorf("--format: %q is not a format: use table, csv or json", format)
	}
	for _, t := range []struct {
		flag string
		to   *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		v, _ := f.GetString(t.flag)
		if v == "" {
			continue
		}
		at, err := parseReportTime(v)
		if err != nil {
			return q, "", fmt.Errorf("--%s: %w", t.flag, err)
		}
		*t.to = at
	}
	return q, format, nil
}

// parseReportTime reads a date (midnight UTC) or an RFC 3339 time.
func parseReportTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2026-09-01) nor an RFC 3339 time (2026-09-01T08:00:00Z)", s)
	}
	return t.UTC(), nil
}

// usageLine is one printed row: a student's use of one type in a period.
type usageLine struct {
	s    *admin.StudentUsage
	row  usage.Row
	none bool // the student used nothing: a row of zeros
}

func usageLines(rep *admin.UsageReport) []usageLine {
	var out []usageLine
	for i := range rep.Students {
		s := &rep.Students[i]
		if len(s.Rows) == 0 {
			out = append(out, usageLine{s: s, none: true})
		}
		for _, r := range s.Rows {
			out = append(out, usageLine{s: s, row: r})
		}
	}
	return out
}

// hours writes seconds as hours with six decimals at most, in the same
// plain decimal form as money.
func hours(secs int64) string { return quota.Money((secs*1_000_000 + 1800) / 3600).String() }

func money(m int64) string { return quota.Money(m).String() }

// period names a row's period by its first day.
func period(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func printUsage(w io.Writer, format string, rep *admin.UsageReport) error {
	switch format {
	case "csv":
		return printUsageCSV(w, rep)
	case "json":
		return printUsageJSON(w, rep)
	}
	return printUsageTable(w, rep)
}

func printUsageTable(w io.Writer, rep *admin.UsageReport) error {
	since := "the beginning"
	if !rep.Since.IsZero() {
		since = rep.Since.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "usage from %s to %s\n", since, rep.Until.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "USER\tGROUP\t"
	if rep.By != usage.Whole {
		head += "PERIOD\t"
	}
	fmt.Fprintln(tw, head+"TYPE\tINSTANCE-H\tVCPU-H\tSTOPPED-H\tCOST\tSPENT\tBUDGET\tLEFT\t")
	for i := range rep.Students {
		s := &rep.Students[i]
		for _, r := range s.Rows {
			line := s.User + "\t" + orDash(s.Group) + "\t"
			if rep.By != usage.Whole {
				line += period(r.Period) + "\t"
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t\t\t\t\n", line, r.InstanceType, hours(r.InstanceSeconds), hours(r.VCPUSeconds), hours(r.StoppedSeconds), money(r.CostMicros))
		}
		line := s.User + "\t" + orDash(s.Group) + "\t"
		if rep.By != usage.Whole {
			line += "\t"
		}
		t := s.Total
		fmt.Fprintf(tw, "%stotal\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", line, hours(t.InstanceSeconds), hours(t.VCPUSeconds), hours(t.StoppedSeconds), money(t.CostMicros),
			s.Spent, moneyOr(s.Budget, "—"), moneyOr(s.BudgetLeft, "—"))
	}
	return tw.Flush()
}

func moneyOr(m *quota.Money, none string) string {
	if m == nil {
		return none
	}
	return m.String()
}

func printUsageCSV(w io.Writer, rep *admin.UsageReport) error {
	cw := csv.NewWriter(w)
	head := []string{"user", "group"}
	if rep.By != usage.Whole {
		head = append(head, string(rep.By))
	}
	head = append(head, "instance_type", "instance_hours", "vcpu_hours", "stopped_hours", "cost", "spent", "budget", "budget_left")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, l := range usageLines(rep) {
		rec := []string{l.s.User, l.s.Group}
		if rep.By != usage.Whole {
			p := ""
			if !l.none {
				p = period(l.row.Period)
			}
			rec = append(rec, p)
		}
		r := l.row
		rec = append(rec, r.InstanceType, hours(r.InstanceSeconds), hours(r.VCPUSeconds), hours(r.StoppedSeconds), money(r.CostMicros),
			l.s.Spent.String(), moneyOr(l.s.Budget, ""), moneyOr(l.s.BudgetLeft, ""))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// The JSON output: decimal strings become JSON numbers as printed, so
// nothing is lost to floating point on the way.
type usageJSON struct {
	Since    *time.Time    `json:"since"`
	Until    time.Time     `json:"until"`
	By       string        `json:"by,omitempty"`
	Students []studentJSON `json:"students"`
}

type studentJSON struct {
	User       string       `json:"user"`
	Group      string       `json:"group"`
	Spent      json.Number  `json:"spent"`
	Budget     *json.Number `json:"budget"`
	BudgetLeft *json.Number `json:"budget_left"`
	Total      rowJSON      `json:"total"`
	Rows       []rowJSON    `json:"rows"`
}

type rowJSON struct {
	Period        string      `json:"period,omitempty"`
	InstanceType  string      `json:"instance_type,omitempty"`
	InstanceHours json.Number `json:"instance_hours"`
	VCPUHours     json.Number `json:"vcpu_hours"`
	StoppedHours  json.Number `json:"stopped_hours"`
	Cost          json.Number `json:"cost"`
}

func rowOf(t usage.Total) rowJSON {
	return rowJSON{InstanceHours: json.Number(hours(t.InstanceSeconds)), VCPUHours: json.Number(hours(t.VCPUSeconds)),
		StoppedHours: json.Number(hours(t.StoppedSeconds)), Cost: json.Number(money(t.CostMicros))}
}

func numberOr(m *quota.Money) *json.Number {
	if m == nil {
		return nil
	}
	n := json.Number(m.String())
	return &n
}

func printUsageJSON(w io.Writer, rep *admin.UsageReport) error {
	out := usageJSON{Until: rep.Until.UTC(), By: string(rep.By), Students: []studentJSON{}}
	if !rep.Since.IsZero() {
		since := rep.Since.UTC()
		out.Since = &since
	}
	for _, s := range rep.Students {
		sj := studentJSON{User: s.User, Group: s.Group, Spent: json.Number(s.Spent.String()),
			Budget: numberOr(s.Budget), BudgetLeft: numberOr(s.BudgetLeft), Total: rowOf(s.Total), Rows: []rowJSON{}}
		for _, r := range s.Rows {
			rj := rowOf(r.Total)
			rj.InstanceType = r.InstanceType
			if rep.By != usage.Whole {
				rj.Period = period(r.Period)
			}
			sj.Rows = append(sj.Rows, rj)
		}
		out.Students = append(out.Students, sj)
	}
	return printJSON(w, out)
}
