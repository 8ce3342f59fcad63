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
	backend.Images
}

type withCloudNames struct {
	plain
	backend.SecurityGroups
	backend.KeyPairs
	backend.Addresses
	backend.Network
}

type withSettings struct {
	plain
	backend.InstanceSettings
}

type withSettled struct {
	plain
	backend.SettledStates
}

func present(a backend.Abilities) string {
	return fmt.Sprintf("tx=%v finder=%v volumes=%v groups=%v keys=%v addresses=%v settings=%v images=%v network=%v settled=%v",
		a.TxLauncher != nil, a.Finder != nil, a.Volumes != nil, a.SecurityGroups != nil, a.KeyPairs != nil, a.Addresses != nil, a.Settings != nil, a.Images != nil, a.Network != nil, a.Settled != nil)
}

// The metered abilities are exactly those of the backend it wraps: none
// hidden, none invented.
func TestMeteredAbilitiesKeepAbilities(t *testing.T) {
	m := New(nil)
	for _, b := range []backend.Backend{plain{}, withTx{}, withFinderVolumes{}, withCloudNames{}, withSettings{}, withSettled{}} {
		a := backend.Discover(b)
		want := present(a)
		t.Run(want, func(t *testing.T) {
			if got := present(m.Abilities(a)); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}
