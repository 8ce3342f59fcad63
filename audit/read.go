package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Read returns the entries of the log in dir, oldest first: the rotated
// files in order, then the current one. It takes no lock, so it works
// while the server writes; a line still being written (no newline yet) is
// left out. Lines that are not entries are counted in bad.
func Read(dir string) (entries []Entry, bad int, err error) {
	rotated, err := rotatedFiles(dir)
	if err != nil {
		return nil, 0, err
	}
	paths := make([]string, 0, len(rotated)+1)
	for _, r := range rotated {
		paths = append(paths, r.path)
	}
	paths = append(paths, filepath.Join(dir, currentName))
	for _, p := range paths {
		n, err := readFile(p, &entries)
		if errors.Is(err, os.ErrNotExist) {
			continue // rotated or pruned since the listing
		}
		if err != nil {
			return nil, 0, err
		}
		bad += n
	}
	return entries, bad, nil
}

func readFile(path string, out *[]Entry) (bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil { // io.EOF: a partial last line is still being written
			return bad, nil
		}
		var e Entry
		if json.Unmarshal(line, &e) != nil || e.RequestID == "" {
			bad++
			continue
		}
		*out = append(*out, e)
	}
}

// Change is one audited request with its outcome: the request and result
// entries joined. Result is "" when the result entry is missing (the
// server stopped in between, or the write failed).
type Change struct {
	Time        time.Time `json:"time"`
	RequestID   string    `json:"request_id"`
	User        string    `json:"user"`
	AccessKeyID string    `json:"access_key_id,omitempty"`
	Source      string    `json:"source,omitempty"`
	Action      string    `json:"action"`
	Resources   []string  `json:"resources,omitempty"`
	Result      string    `json:"result"`
	Error       string    `json:"error,omitempty"`
}

// Changes joins entries by request id, in the order the requests began.
func Changes(entries []Entry) []*Change {
	byID := map[string]*Change{}
	var out []*Change
	for _, e := range entries {
		c := byID[e.RequestID]
		if c == nil {
			c = &Change{Time: e.Time, RequestID: e.RequestID, User: e.User, AccessKeyID: e.AccessKeyID, Source: e.Source, Action: e.Action}
			byID[e.RequestID] = c
			out = append(out, c)
		}
		c.Resources = unique(append(c.Resources, e.Resources...))
		if e.Phase == PhaseResult {
			c.Result, c.Error = e.Result, e.Error
		}
	}
	return out
}

// Filter selects changes; empty fields match everything.
type Filter struct {
	User     string // the user name or the access key id
	Since    time.Time
	Action   string // case-insensitive
	Resource string
}

// Match reports whether c passes f.
func (f Filter) Match(c *Change) bool {
	switch {
	case f.User != "" && f.User != c.User && f.User != c.AccessKeyID:
		return false
	case !f.Since.IsZero() && c.Time.Before(f.Since):
		return false
	case f.Action != "" && !strings.EqualFold(f.Action, c.Action):
		return false
	case f.Resource != "" && !slices.Contains(c.Resources, f.Resource):
		return false
	}
	return true
}

// ParseSince reads --since: an RFC 3339 time, a date (UTC midnight), or a
// duration back from now ("36h").
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use 2026-03-01, 2026-03-01T14:00:00Z or a duration back from now such as 36h", s)
}
