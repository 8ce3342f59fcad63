package backend

import (
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// Deps is what a backend factory is given.
type Deps struct {
	Config *conf.Config
	Store  store.Store // for backends that persist machines (bucket backend_<name>)
	Clock  func() time.Time
	Log    zerolog.Logger
}
