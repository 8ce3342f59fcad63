package metrics

import (
	"fmt"
	"testing"

	"github.com/econe/econe-server/backend"
)

type plain struct{ backend.Backend }

type withTx struct {
	plain
	backend.TxLauncher
}

type withFinderVolumes struct {
	plain
	backend.LaunchFinder
	backend.Volumes
}

type withAll struct {
	plain
	backend.TxLauncher
	backend.LaunchFinder
	backend.Volumes
}

func abilities(b backend.Backend) string {
	_, tx := b.(backend.TxLauncher)
	_, f := b.(backend.LaunchFinder)
	_, v := b.(backend.Volumes)
	return fmt.Sprintf("tx=%v finder=%v volumes=%v", tx, f, v)
}

// The metered backend has exactly the optional abilities of the one it
// wraps: actions find them by type assertion.
func TestMeteredBackendKeepsAbilities(t *testing.T) {
	m := New(nil)
	for _, b := range []backend.Backend{plain{}, withTx{}, withFinderVolumes{}, withAll{}} {
		want := abilities(b)
		t.Run(want, func(t *testing.T) {
			if got := abilities(m.Backend(b)); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}
