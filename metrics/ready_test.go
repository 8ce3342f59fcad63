package metrics

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/store"
)

// diskFull is a real store whose writes fail while full is set, as on a
// full disk, and succeed again once space is freed.
type diskFull struct {
	store.Store
	full bool
}

var errNoSpace = errors.New("no space left on device")

func (d *diskFull) Update(fn func(store.Tx) error) error {
	if d.full {
		return errNoSpace
	}
	return d.Store.Update(fn)
}

// answering is a backend whose probe fails while down is set.
type answering struct {
	backend.Backend
	down bool
}

func (a *answering) Describe(context.Context, []string) ([]backend.Machine, error) {
	if a.down {
		return nil, errors.New("connection refused")
	}
	return nil, nil
}

// Readiness turns unready when the store refuses writes or the backend
// stops answering, and ready again when they recover; an answer is reused
// for a second, then probed afresh.
func TestReadinessRecovers(t *testing.T) {
	bolt, err := store.OpenBolt(filepath.Join(t.TempDir(), "econe.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bolt.Close() })
	st, be := &diskFull{Store: bolt}, &answering{}
	now := time.Unix(1_700_000_000, 0)
	r := NewReadiness(st, be, func() time.Time { return now })
	steps := []struct {
		name    string
		advance time.Duration
		full    bool
		down    bool
		want    string // "" for ready
	}{
		{"healthy", 0, false, false, ""},
		{"disk full, within the second: the answer is reused", 500 * time.Millisecond, true, false, ""},
		{"disk full, a second later", time.Second, true, false, "store: no space left on device"},
		{"space freed", time.Second, false, false, ""},
		{"backend down", time.Second, false, true, "backend: connection refused"},
		{"backend back", time.Second, false, false, ""},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		st.full, be.down = s.full, s.down
		got := ""
		if err := r.Check(context.Background()); err != nil {
			got = err.Error()
		}
		if got != s.want {
			t.Errorf("%s: got %q, want %q", s.name, got, s.want)
		}
	}
}
