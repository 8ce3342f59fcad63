package admin

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RosterEntry is one student of a class roster.
type RosterEntry struct {
	Line  int
	Name  string
	Group string
}

// ImportResult is one line of `user import`'s output. Secret is empty for
// users that already existed: their key is not reissued.
type ImportResult struct {
	Credentials
	Status string // "created" or "exists"
}

// Import statuses.
const (
	StatusCreated = "created"
	StatusExists  = "exists"
)

// ParseRoster reads a CSV of name[,group] rows. A first row "name" or
// "name,group" is a header; blank lines and lines starting with '#' are
// skipped. Every bad row is reported (with its line), so the roster can be
// fixed in one go before anything is created.
func ParseRoster(r io.Reader) ([]RosterEntry, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	var (
		out  []RosterEntry
		errs []error
		seen = map[string]int{}
	)
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("roster: %w", err)
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(strings.TrimPrefix(rec[i], "\ufeff")) // spreadsheets' byte-order mark
		}
		if first && isRosterHeader(rec) {
			continue
		}
		e := RosterEntry{Line: line, Name: rec[0]}
		if len(rec) > 1 {
			e.Group = rec[1]
		}
		if err := checkRosterRow(rec, e, seen); err != nil {
			errs = append(errs, fmt.Errorf("roster line %d: %w", line, err))
			continue
		}
		seen[e.Name] = line
		out = append(out, e)
	}
	return out, errors.Join(errs...)
}

func isRosterHeader(rec []string) bool {
	return strings.EqualFold(rec[0], "name") && (len(rec) == 1 || strings.EqualFold(rec[1], "group"))
}

func checkRosterRow(rec []string, e RosterEntry, seen map[string]int) error {
	if len(rec) > 2 {
		return fmt.Errorf("%d fields; want name[,group]", len(rec))
	}
	if err := ValidName("user", e.Name); err != nil {
		return err
	}
	if e.Group != "" {
		if err := ValidName("group", e.Group); err != nil {
			return err
		}
	}
	if prev, dup := seen[e.Name]; dup {
		return fmt.Errorf("user %s is already listed on line %d", e.Name, prev)
	}
	return nil
}

// Import creates the roster's users. Users that already exist are reported
// with their current group and key id, and keep their key, so an import can
// be rerun after adding late students. It stops at the first other error,
// returning the results so far.
func Import(svc Service, roster []RosterEntry) ([]ImportResult, error) {
	var out []ImportResult
	for _, e := range roster {
		c, err := svc.Add(e.Name, e.Group)
		if errors.Is(err, ErrExists) {
			info, serr := svc.Show(e.Name)
			if serr != nil {
				return out, serr
			}
			out = append(out, ImportResult{Credentials{Name: info.Name, Group: info.Group, AccessKeyID: info.AccessKeyID}, StatusExists})
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, ImportResult{*c, StatusCreated})
	}
	return out, nil
}

// WriteImportCSV prints results as name,group,access_key_id,secret_access_key,status.
func WriteImportCSV(w io.Writer, results []ImportResult) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"name", "group", "access_key_id", "secret_access_key", "status"})
	for _, r := range results {
		_ = cw.Write([]string{r.Name, r.Group, r.AccessKeyID, r.SecretAccessKey, r.Status})
	}
	cw.Flush()
	return cw.Error()
}
