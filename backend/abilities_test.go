package backend_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
)

// full has every optional ability; plain has none.
type plain struct{ backend.Backend }

type full struct {
	plain
	backend.TxLauncher
	backend.LaunchFinder
	backend.Volumes
	backend.SecurityGroups
	backend.KeyPairs
	backend.Addresses
	backend.InstanceSettings
	backend.Images
	backend.Network
}

// counting is a wrapper such as the metrics one: it wraps the backend and
// each ability the wrapped backend has, and counts the calls it sees.
type counting struct {
	backend.Backend
	calls *int
}

type countingVolumes struct {
	backend.Volumes
	calls *int
}

func (c countingVolumes) DeleteSnapshot(ctx context.Context, id string) error {
	*c.calls++
	return nil
}

func wrap(a backend.Abilities, calls *int) backend.Abilities {
	out := a
	out.Backend = counting{a.Backend, calls}
	if a.Volumes != nil {
		out.Volumes = countingVolumes{a.Volumes, calls}
	}
	return out
}

func present(a backend.Abilities) string {
	return fmt.Sprint(a.TxLauncher != nil, a.Finder != nil, a.Volumes != nil, a.SecurityGroups != nil, a.KeyPairs != nil, a.Addresses != nil, a.Settings != nil, a.Images != nil, a.Network != nil)
}

// Abilities are found once; a wrapper built on them keeps every one, also
// when its Abilities travel as a plain Backend and are discovered again.
func TestWrapperKeepsAbilities(t *testing.T) {
	cases := []struct {
		name string
		b    backend.Backend
		want string
	}{
		{"no abilities", plain{}, "false false false false false false false false false"},
		{"every ability", full{}, "true true true true true true true true true"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			w := wrap(backend.Discover(c.b), &calls)
			if got := present(w); got != c.want {
				t.Errorf("wrapped: got abilities %s, want %s", got, c.want)
			}
			var asBackend backend.Backend = w
			if got := present(backend.Discover(asBackend)); got != c.want {
				t.Errorf("wrapped, discovered again: got abilities %s, want %s", got, c.want)
			}
			if w.Volumes != nil {
				w.Volumes.DeleteSnapshot(context.Background(), "snap-1")
				if calls != 1 {
					t.Errorf("a call through the wrapped ability: got %d counted, want 1", calls)
				}
			}
		})
	}
}

// A backend's own error with a capacity or state code is the sentinel for
// errors.Is, whatever its words.
func TestErrorMatchesByCode(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"capacity in the cloud's words", &backend.Error{Code: ec2err.InsufficientInstanceCapacity, Message: "no m5 in us-east-1a"}, backend.ErrCapacity, true},
		{"wrapped", fmt.Errorf("run: %w", &backend.Error{Code: ec2err.IncorrectInstanceState, Message: "x"}), backend.ErrIncorrectState, true},
		{"another code", &backend.Error{Code: ec2err.RequestLimitExceeded, Message: "slow down"}, backend.ErrCapacity, false},
		{"throttled", &backend.Error{Code: ec2err.RequestLimitExceeded, Message: "slow down"}, backend.ErrThrottled, true},
		{"plain error", errors.New("disk on fire"), backend.ErrNotFound, false},
	}
	for _, c := range cases {
		if got := errors.Is(c.err, c.target); got != c.want {
			t.Errorf("%s: errors.Is got %v, want %v", c.name, got, c.want)
		}
	}
}
