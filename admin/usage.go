package admin

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/usage"
)

// UsageService reports what students used and spent, from the usage ledger.
type UsageService interface {
	Usage(q UsageQuery) (*UsageReport, error)
}

// UsageQuery selects a usage report: one student, one group, or everyone
// (neither set), over [Since, Until) (zero Until: now), split By a period.
type UsageQuery struct {
	User  string       `json:"user,omitempty"`
	Group string       `json:"group,omitempty"`
	Since time.Time    `json:"since,omitzero"`
	Until time.Time    `json:"until,omitzero"`
	By    usage.Period `json:"by,omitempty"`
}

// UsageReport is what `econe-server usage` prints.
type UsageReport struct {
	Since time.Time `json:"since,omitzero"`
	// Until is the window's end as reported: now when none was asked for.
	Until    time.Time      `json:"until"`
	By       usage.Period   `json:"by,omitempty"`
	Students []StudentUsage `json:"students"`
}

// StudentUsage is one student's rows and totals. Budget is nil when the
// student has none; Spent is everything to date, whatever the window.
type StudentUsage struct {
	User       string       `json:"user"`
	Group      string       `json:"group,omitempty"`
	Rows       []usage.Row  `json:"rows"`
	Total      usage.Total  `json:"total"`
	Spent      quota.Money  `json:"spent"`
	Budget     *quota.Money `json:"budget,omitempty"`
	BudgetLeft *quota.Money `json:"budget_left,omitempty"`
}

// Usage implements UsageService. Students deleted since keep their usage
// in the ledger and appear in a report of everyone, with no group.
func (u *Users) Usage(q UsageQuery) (*UsageReport, error) {
	if q.User != "" && q.Group != "" {
		return nil, errors.New("usage: name a user or a group, not both")
	}
	switch q.By {
	case usage.Whole, usage.Day, usage.Week:
	default:
		return nil, fmt.Errorf("usage: unknown period %q: use day or week", q.By)
	}
	now := u.now()
	if q.Until.IsZero() || q.Until.After(now) {
		q.Until = now
	}
	if q.Until.Before(q.Since) {
		return nil, fmt.Errorf("usage: the window ends (%s) before it begins (%s)", q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	rep := &UsageReport{Since: q.Since, Until: q.Until, By: q.By}
	err := u.Store.View(func(tx store.Tx) error {
		rep.Students = nil
		users, err := u.usageUsers(tx, q)
		if err != nil {
			return err
		}
		byName := map[string]*StudentUsage{}
		var owners []string // nil: the whole ledger
		for _, rec := range users {
			s, err := u.studentUsage(tx, rec)
			if err != nil {
				return err
			}
			byName[rec.Name] = s
			if q.User != "" || q.Group != "" {
				owners = append(owners, rec.Name)
			}
		}
		if (q.User != "" || q.Group != "") && len(owners) == 0 {
			return nil
		}
		err = usage.Reports(tx, owners, usage.Window{Since: q.Since, Until: q.Until, By: q.By}, now, func(r *usage.Report) error {
			s := byName[r.Owner]
			if s == nil {
				s = &StudentUsage{User: r.Owner}
				byName[r.Owner] = s
			}
			s.Rows, s.Total, s.Spent = r.Rows, r.Total, quota.Money(r.CostToDate)
			return nil
		})
		if err != nil {
			return err
		}
		for _, s := range byName {
			if s.Budget != nil {
				left := *s.Budget - s.Spent
				s.BudgetLeft = &left
			}
			rep.Students = append(rep.Students, *s)
		}
		sort.Slice(rep.Students, func(i, j int) bool { return rep.Students[i].User < rep.Students[j].User })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// usageUsers are the students a query names (all of them for neither).
func (u *Users) usageUsers(tx store.Tx, q UsageQuery) ([]*store.User, error) {
	if q.User != "" {
		rec, err := userRecord(tx, q.User)
		if err != nil {
			return nil, fmt.Errorf("usage of user %s: %w", q.User, err)
		}
		return []*store.User{rec}, nil
	}
	all, err := store.ListUsers(tx)
	if err != nil || q.Group == "" {
		return all, err
	}
	var in []*store.User
	for _, rec := range all {
		if rec.Group == q.Group {
			in = append(in, rec)
		}
	}
	return in, nil
}

// studentUsage is a student's row with their effective budget.
func (u *Users) studentUsage(tx store.Tx, rec *store.User) (*StudentUsage, error) {
	group, own, err := store.QuotaOverrides(tx, rec)
	if err != nil {
		return nil, err
	}
	cfg := u.config()
	limits := quota.Effective(cfg.Quota.Limits, cfg.Groups[rec.Group].Limits, group, own).Limits
	return &StudentUsage{User: rec.Name, Group: rec.Group, Budget: limits.Budget}, nil
}

// The socket side.

const pathUsage = "/usage"

func handleUsage(handle func(pattern string, op func(svc Service, r *http.Request) (any, error))) {
	handle("POST "+pathUsage, func(svc Service, r *http.Request) (any, error) {
		var q UsageQuery
		if err := decodeRequest(r, &q); err != nil {
			return nil, err
		}
		return svc.Usage(q)
	})
}

// Usage is UsageService through the socket.
func (c *Client) Usage(q UsageQuery) (*UsageReport, error) {
	return fetch[UsageReport](c, http.MethodPost, pathUsage, q)
}
