package backend

import (
	"time"

	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// TxLauncher is an optional ability of backends whose machines live in
// econe-server's own store (the sim). RunInTx accepts the machine inside
// the caller's transaction, so the instance record and its machine commit
// together — one commit per launch instead of three, and no crash window
// between them. LaunchContext.InstanceID is new: no committed
// transaction launched it (the caller drew it with store.NewID, or read
// that its record is absent), and a transaction launches it once, so a
// backend need not read what it would find there. The transaction may be
// retried: RunInTx for the same InstanceID in the retry MUST return a
// machine of the same id. If the transaction is rolled back the machine
// MUST stay invisible (no instance refers to it) and may be forgotten at
// the next start.
type TxLauncher interface {
	RunInTx(tx store.Tx, lc *LaunchContext) (Machine, error)
}

// Deps is what a backend factory is given.
type Deps struct {
	Config *conf.Config
	// Store is the backend's own part of the store (keys NAME/… of bucket
	// backends): app gives each backend the space named after it.
	Store *store.Space
	Clock func() time.Time
	Log   zerolog.Logger
	// UserGroup is a user's group ("" for none), for the cloud's labels
	// only (never for access decisions); nil knows no groups.
	UserGroup func(user string) string
}
